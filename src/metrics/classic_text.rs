//! The classic Prometheus text format (version 0.0.4), for scrapers that do not ask for
//! OpenMetrics: `promtool check metrics` (Debian 12 ships 2.42), older Prometheus servers,
//! curl. prometheus-client writes only OpenMetrics; the two differ, for what adgate exports,
//! in three ways only: a counter family is named with its `_total` suffix in HELP and TYPE,
//! there is no `# UNIT` line, and no `# EOF` terminator.

/// `openmetrics` rewritten in the classic text format.
pub fn from_openmetrics(openmetrics: &str) -> String {
    let lines: Vec<&str> = openmetrics.lines().collect();
    let mut classic = String::with_capacity(openmetrics.len());
    for (index, line) in lines.iter().enumerate() {
        if *line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = match (line.strip_prefix("# HELP "), line.strip_prefix("# TYPE ")) {
            (Some(help), _) if is_counter(lines.get(index + 1), help) => {
                let (name, text) = help.split_once(' ').unwrap_or((help, ""));
                format!("# HELP {name}_total {text}")
            }
            (_, Some(kind)) if kind.ends_with(" counter") => {
                format!("# TYPE {}_total counter", kind.trim_end_matches(" counter"))
            }
            _ => (*line).to_owned(),
        };
        classic.push_str(&rewritten);
        classic.push('\n');
    }
    classic
}

/// Whether the `# HELP` line `help` (without its prefix) is followed by its family's counter
/// TYPE line.
fn is_counter(next: Option<&&str>, help: &str) -> bool {
    let name = help.split(' ').next().unwrap_or_default();
    next.is_some_and(|next| *next == format!("# TYPE {name} counter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_suffix_and_openmetrics_only_lines_go() {
        let openmetrics = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
                           a_requests_total{client=\"vpn1\"} 2\n\
                           # HELP a_up Up.\n# TYPE a_up gauge\na_up 1\n\
                           # HELP a_wait_seconds Wait.\n# TYPE a_wait_seconds histogram\n\
                           # UNIT a_wait_seconds seconds\na_wait_seconds_count 0\n# EOF\n";
        assert_eq!(
            from_openmetrics(openmetrics),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\n\
             a_requests_total{client=\"vpn1\"} 2\n\
             # HELP a_up Up.\n# TYPE a_up gauge\na_up 1\n\
             # HELP a_wait_seconds Wait.\n# TYPE a_wait_seconds histogram\n\
             a_wait_seconds_count 0\n"
        );
    }
}
