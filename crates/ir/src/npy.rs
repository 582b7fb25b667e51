//! Minimal `.npy` header reading and writing (format versions 1–3).
//!
//! Lives in `ir` because parameters may come from `.npy` files; the reference executor builds
//! its `.npz` support on the same code. Only little-endian, C-ordered arrays of the element types
//! seedchip uses are accepted: everything else is rejected with a message saying what was found.

use std::io::Read;

/// Element types seedchip reads or writes in `.npy` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDType {
    F32,
    F16,
    I32,
    I64,
}

impl NpyDType {
    pub fn descr(self) -> &'static str {
        match self {
            NpyDType::F32 => "<f4",
            NpyDType::F16 => "<f2",
            NpyDType::I32 => "<i4",
            NpyDType::I64 => "<i8",
        }
    }

    pub fn size_bytes(self) -> usize {
        match self {
            NpyDType::F16 => 2,
            NpyDType::F32 | NpyDType::I32 => 4,
            NpyDType::I64 => 8,
        }
    }

    /// `descr` as numpy writes it; `=` and `|` mean native order, which is little-endian on every
    /// machine numpy files come from here, but we only trust an explicit `<` for multi-byte types.
    pub fn from_descr(s: &str) -> Option<Self> {
        [NpyDType::F32, NpyDType::F16, NpyDType::I32, NpyDType::I64]
            .into_iter()
            .find(|d| d.descr() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: NpyDType,
    pub shape: Vec<u64>,
    /// Byte offset of the first element from the start of the file.
    pub data_offset: u64,
}

impl NpyHeader {
    pub fn numel(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
    }
}

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Reads and parses the header, leaving `r` positioned at the first data byte.
/// Errors are plain messages; callers wrap them with the file or array name.
pub fn read_header<R: Read>(r: &mut R) -> Result<NpyHeader, String> {
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre)
        .map_err(|e| format!("reading .npy preamble: {e}"))?;
    if &pre[..6] != MAGIC {
        return Err("not a .npy file (missing \\x93NUMPY magic)".into());
    }
    let major = pre[6];
    let (len, prefix) = match major {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)
                .map_err(|e| format!("reading .npy header length: {e}"))?;
            (u16::from_le_bytes(b) as usize, 10u64)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)
                .map_err(|e| format!("reading .npy header length: {e}"))?;
            (u32::from_le_bytes(b) as usize, 12u64)
        }
        v => {
            return Err(format!(
                "unsupported .npy format version {v} (expected 1, 2 or 3)"
            ));
        }
    };
    if len > 1 << 20 {
        return Err(format!(".npy header of {len} bytes is implausibly large"));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)
        .map_err(|e| format!("reading .npy header: {e}"))?;
    let text = String::from_utf8(text).map_err(|_| ".npy header is not UTF-8".to_string())?;
    let (dtype, shape) = parse_dict(&text)?;
    Ok(NpyHeader {
        dtype,
        shape,
        data_offset: prefix + len as u64,
    })
}

/// Header bytes (version 1.0, padded to 64 bytes as numpy does) for an array.
pub fn write_header(dtype: NpyDType, shape: &[u64]) -> Vec<u8> {
    let shape_txt = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_txt
    );
    // Total = 10-byte preamble + dict + padding + '\n', a multiple of 64.
    let total = (10 + dict.len() + 1).div_ceil(64) * 64;
    while 10 + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Parses the Python dict literal numpy writes: `{'descr': '<f4', 'fortran_order': False,
/// 'shape': (3, 4), }`.
fn parse_dict(text: &str) -> Result<(NpyDType, Vec<u64>), String> {
    let mut p = DictParser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    p.ws();
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key '{other}' in .npy header")),
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            p.expect(b'}')?;
            break;
        }
    }
    let descr = descr.ok_or(".npy header lacks 'descr'")?;
    if fortran.ok_or(".npy header lacks 'fortran_order'")? {
        return Err("Fortran-ordered .npy arrays are not supported; save a C-ordered copy".into());
    }
    let shape = shape.ok_or(".npy header lacks 'shape'")?;
    let dtype = NpyDType::from_descr(&descr).ok_or_else(|| {
        format!("unsupported .npy dtype '{descr}' (expected one of <f4, <f2, <i4, <i8)")
    })?;
    Ok((dtype, shape))
}

struct DictParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl DictParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed .npy header: expected '{}' at byte {}",
                c as char, self.i
            ))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = *self
            .s
            .get(self.i)
            .ok_or("malformed .npy header: unexpected end")?;
        if q != b'\'' && q != b'"' {
            return Err(format!(
                "malformed .npy header: expected a string at byte {}",
                self.i
            ));
        }
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            self.i += 1;
        }
        let out = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.expect(q)?;
        Ok(out)
    }

    fn boolean(&mut self) -> Result<bool, String> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            Ok(true)
        } else if rest.starts_with(b"False") {
            self.i += 5;
            Ok(false)
        } else {
            Err(format!(
                "malformed .npy header: expected True/False at byte {}",
                self.i
            ))
        }
    }

    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(out);
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            let txt = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            // numpy writes Python ints, which may carry an `L` suffix in old files.
            self.eat(b'L');
            out.push(txt.parse::<u64>().map_err(|_| {
                format!("malformed .npy header: expected a dimension at byte {start}")
            })?);
            self.ws();
            if !self.eat(b',') {
                self.ws();
                self.expect(b')')?;
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        for shape in [vec![], vec![7], vec![3, 4], vec![2, 3, 5]] {
            let h = write_header(NpyDType::I64, &shape);
            assert_eq!(h.len() % 64, 0);
            let parsed = read_header(&mut h.as_slice()).unwrap();
            assert_eq!(parsed.shape, shape);
            assert_eq!(parsed.dtype, NpyDType::I64);
            assert_eq!(parsed.data_offset, h.len() as u64);
        }
    }

    #[test]
    fn parses_numpy_style_header() {
        let dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (10, 64), }";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&(dict.len() as u32 + 1).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        bytes.push(b'\n');
        let h = read_header(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.dtype, NpyDType::F16);
        assert_eq!(h.shape, vec![10, 64]);
        assert_eq!(h.data_offset, 12 + dict.len() as u64 + 1);
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(read_header(&mut &b"hello world"[..]).is_err());
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        let err = read_header(&mut bytes.as_slice()).unwrap_err();
        assert!(err.contains("<f8"), "{err}");
        let dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        assert!(
            read_header(&mut bytes.as_slice())
                .unwrap_err()
                .contains("Fortran")
        );
    }
}
