//! Named random streams for the serving simulation.
//!
//! Each source of randomness (arrival gaps, candidate counts, a stage's service-time noise)
//! draws from its own ChaCha8 stream seeded from `(seed, name)` by `seedchip_zoo::rng`, so
//! adding draws to one stream never shifts another, and a run is a pure function of its
//! configuration and seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A named stream with the few continuous draws the simulator needs.
#[derive(Debug, Clone)]
pub struct Stream {
    rng: ChaCha8Rng,
    /// Second normal deviate of the last Box–Muller pair.
    spare_normal: Option<f64>,
}

impl Stream {
    pub fn new(seed: u64, name: &str) -> Stream {
        Stream {
            rng: seedchip_zoo::rng::stream(seed, &format!("serving.{name}"), &[]),
            spare_normal: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform on (0, 1]: 53 random bits, never 0 so `ln` is finite.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (n ≥ 1), by Lemire's multiply-shift (bias < n / 2^64).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Exponential with the given mean.
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.uniform().ln()
    }

    /// Standard normal (Box–Muller, both deviates used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        self.spare_normal = Some(r * t.sin());
        r * t.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_named_and_repeatable() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "arrivals");
                move |_| s.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "arrivals");
                move |_| s.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "candidates");
                move |_| s.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn exponential_and_normal_moments() {
        let mut s = Stream::new(1, "t");
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| s.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((mean - 2.0).abs() < 0.03, "{mean}");
        let z: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.02, "{m} {v}");
        let below: Vec<u64> = (0..1000).map(|_| s.below(5)).collect();
        assert!(below.iter().all(|&x| x < 5));
    }
}
