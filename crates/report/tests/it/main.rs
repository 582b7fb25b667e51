//! A whole page with every chart kind: self-contained, deterministic, and every number outside
//! axis ticks is `fmt_num` of an input value.

use seedchip_report::html::{Page, Table};
use seedchip_report::num::{fmt_num, numbers_in_text};
use seedchip_report::svg::{Axis, BarChart, Series, Timeline, XyChart};

fn build(values: &[f64]) -> String {
    let mut page = Page::new("it");
    let mut xy = XyChart::new("xy", Axis::log("batch"), Axis::linear("ms"));
    xy.series.push(Series::line_points(
        "dev",
        values
            .iter()
            .enumerate()
            .map(|(i, v)| ((1 << i) as f64, *v))
            .collect(),
    ));
    page.figure("xy", "line", &xy.to_svg());
    let mut bars = BarChart::new(
        "bars",
        vec!["a".into(), "b".into()],
        Axis::linear("J"),
        true,
    );
    bars.push("s", values[..2].to_vec());
    page.figure("bars", "stacked", &bars.to_svg());
    let mut tl = Timeline::new("tl", "us");
    tl.push("unit", vec![(0.0, values[0]), (values[1], values[2])]);
    page.figure("tl", "timeline", &tl.to_svg());
    let mut t = Table::new(vec!["k".into(), "v".into()]);
    for v in values {
        t.row(vec!["x".into(), fmt_num(*v)]);
    }
    page.table(&t);
    page.finish()
}

#[test]
fn page_numbers_come_from_the_inputs() {
    let values = [0.125, 3.5, 17.25, 1234.5];
    let html = build(&values);
    assert_eq!(html, build(&values), "deterministic");
    assert_eq!(html.matches("<svg class=\"plot\"").count(), 3);
    // Drop the head, tick labels and tags; what is left is the visible text.
    let body = html.split("<body>").nth(1).unwrap();
    let body = body.split("<script>").next().unwrap();
    let no_ticks: String = body
        .split("<text class=\"tick\"")
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                p
            } else {
                p.split_once("</text>").map_or(p, |x| x.1)
            }
        })
        .collect();
    let visible: String = no_ticks
        .split('<')
        .filter_map(|p| p.split_once('>').map(|x| x.1))
        .collect();
    let allowed: Vec<String> = values
        .iter()
        .copied()
        .chain((0..values.len()).map(|i| (1 << i) as f64))
        .map(fmt_num)
        .collect();
    for n in numbers_in_text(&visible) {
        assert!(allowed.contains(&n), "{n} is not an input value");
    }
}
