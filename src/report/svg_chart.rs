//! Bar charts as inline SVG for the HTML report: no script, no font or stylesheet fetched,
//! readable offline and in a mail archive. Every bar carries a `<title>` (its value, shown on
//! hover and read by screen readers); every label comes from the caller already as plain text
//! and is escaped here.

use std::fmt::Write;

use html_escape::encode_safe;

use super::summary::DayCount;

const BAR_HEIGHT: u64 = 18;
const LABEL_WIDTH: u64 = 260;
const BAR_AREA: u64 = 420;

/// Logins per day, accepted and refused side by side in one column per day.
pub fn logins_per_day(days: &[DayCount]) -> String {
    const COLUMN: u64 = 22;
    const PLOT_HEIGHT: u64 = 200;
    let most = days
        .iter()
        .map(|day| day.accepted.max(day.refused))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = 60 + COLUMN * days.len() as u64;
    let height = PLOT_HEIGHT + 70;
    let mut svg = open_svg("logins-per-day", "Logins per day by verdict", width, height);
    let _ = write!(
        svg,
        r#"<text class="axis" x="4" y="14">{most}</text><line class="axis" x1="40" y1="20" x2="40" y2="{bottom}"/><line class="axis" x1="40" y1="{bottom}" x2="{width}" y2="{bottom}"/>"#,
        bottom = 20 + PLOT_HEIGHT,
    );
    // A label every few columns, so that a month stays readable.
    let label_every = (days.len() / 15).max(1);
    for (index, day) in days.iter().enumerate() {
        let x = 44 + COLUMN * index as u64;
        for (offset, verdict, count) in [(0, "accepted", day.accepted), (9, "refused", day.refused)]
        {
            let bar = count * PLOT_HEIGHT / most;
            let _ = write!(
                svg,
                r#"<rect class="bar {verdict}" x="{x}" y="{y}" width="8" height="{bar}"><title>{day}: {count} {verdict}</title></rect>"#,
                x = x + offset,
                y = 20 + PLOT_HEIGHT - bar,
                day = day.day,
            );
        }
        if index % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text class="label" transform="translate({x},{y}) rotate(60)">{date}</text>"#,
                x = x + 4,
                y = 26 + PLOT_HEIGHT,
                date = day.day.format("%m-%d"),
            );
        }
    }
    let _ = write!(
        svg,
        r#"<rect class="accepted" x="{x}" y="4" width="10" height="10"/><text class="legend" x="{tx}" y="13">accepted</text><rect class="refused" x="{x2}" y="4" width="10" height="10"/><text class="legend" x="{tx2}" y="13">refused</text>"#,
        x = width.saturating_sub(150),
        tx = width.saturating_sub(136),
        x2 = width.saturating_sub(70),
        tx2 = width.saturating_sub(56),
    );
    svg.push_str("</svg>");
    svg
}

/// One horizontal bar per item, longest first as given: `(label, count)`.
pub fn horizontal_bars(id: &str, title: &str, class: &str, items: &[(String, u64)]) -> String {
    let most = items
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = LABEL_WIDTH + BAR_AREA + 60;
    let height = (BAR_HEIGHT + 6) * items.len().max(1) as u64 + 10;
    let mut svg = open_svg(id, title, width, height);
    for (index, (label, count)) in items.iter().enumerate() {
        let y = 5 + (BAR_HEIGHT + 6) * index as u64;
        let bar = (count * BAR_AREA / most).max(1);
        let label = encode_safe(label);
        let _ = write!(
            svg,
            r#"<text class="label" x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect class="bar {class}" x="{LABEL_WIDTH}" y="{y}" width="{bar}" height="{BAR_HEIGHT}"><title>{label}: {count}</title></rect><text class="value" x="{vx}" y="{ty}">{count}</text>"#,
            lx = LABEL_WIDTH - 6,
            ty = y + BAR_HEIGHT - 4,
            vx = LABEL_WIDTH + bar + 4,
        );
    }
    if items.is_empty() {
        let _ = write!(svg, r#"<text class="label" x="10" y="20">none</text>"#);
    }
    svg.push_str("</svg>");
    svg
}

fn open_svg(id: &str, title: &str, width: u64, height: u64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{title}</title>"#,
        id = encode_safe(id),
        title = encode_safe(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_from_the_trail_cannot_open_an_element() {
        let svg = horizontal_bars(
            "sources",
            "Top sources",
            "failure",
            &[("<script>alert(1)</script>".into(), 3)],
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        assert_eq!(svg.matches(r#"<rect class="bar failure""#).count(), 1);
    }

    #[test]
    fn each_day_has_an_accepted_and_a_refused_bar_scaled_to_the_busiest() {
        let day = |d: u32, accepted, refused| DayCount {
            day: chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap(),
            accepted,
            refused,
        };
        let svg = logins_per_day(&[day(1, 10, 0), day(2, 5, 2)]);
        assert_eq!(svg.matches(r#"<rect class="bar accepted""#).count(), 2);
        assert_eq!(svg.matches(r#"<rect class="bar refused""#).count(), 2);
        assert!(
            svg.contains(r#"height="200"><title>2026-12-01: 10 accepted"#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"height="100"><title>2026-12-02: 5 accepted"#),
            "{svg}"
        );
    }
}
