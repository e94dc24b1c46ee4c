//! The short report, for a terminal at commit time (the pre-commit hooks): one line per
//! finding, `file:line:col: severity[rule] message (object)`, then the errors and the summary.
//! No source excerpt: a hook's output should fit the screen above the next prompt.

use super::{printable, Report};

pub(super) fn render(r: &Report<'_>) -> String {
    let mut out = String::new();
    for f in r.findings {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {} ({}{})\n",
            printable(&f.location.file),
            f.location.line,
            f.location.column,
            f.severity.as_str(),
            printable(&f.rule_id),
            printable(&f.message),
            printable(&f.resource.display()),
            super::rendered_suffix(f)
        ));
    }
    for (file, message) in r.problems() {
        out.push_str(&format!(
            "{}: error: {}\n",
            printable(file),
            printable(message)
        ));
    }
    out.push_str(&super::human::summary(r));
    out
}
