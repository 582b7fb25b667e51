use crate::support::*;

#[test]
fn strided_copies_move_exactly_the_addressed_bytes() {
    let mut m = machine("dma");
    let x: Vec<f32> = (0..24).map(|i| i as f32 * 1.5 - 7.0).collect();
    m.write_input("x", &f32s(&[4, 6], x.clone())).unwrap();
    let stats = run(&mut m);
    let window = out_f32(&m, "window");
    let want: Vec<f32> = (0..4)
        .flat_map(|r| (1..4).map(move |c| (r, c)))
        .map(|(r, c)| x[r * 6 + c])
        .collect();
    assert_eq!(window, want);
    let rows = out_f32(&m, "rows");
    assert_eq!(&rows[..6], &x[18..24]);
    assert_eq!(&rows[6..], &x[6..12]);
    assert_eq!(stats.instructions, 6);
    assert_eq!(stats.per_queue["dma"], 5);
    assert_eq!(stats.bytes_read.hbm, 48 + 48);
    assert_eq!(stats.bytes_written.hbm, 48);
}
