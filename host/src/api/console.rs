//! The web console of `stepwasm serve`: a single page (`console/index.html`,
//! `app.js`, `style.css`, plain HTML/JS/CSS, no external URLs) compiled into
//! the binary. The page lists the state machines, their executions and each
//! execution's history, and colours the graph (`GET /graph.svg`) by what
//! happened (every state at work in concurrent branches and Map iterations
//! shown in progress, a branch a sibling's failure stopped shown stopped) and
//! labels each Map state with its iteration counts; all it reads comes
//! through the same JSON API as the SDKs use.

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The console's file at `path` (a request path; a query string is ignored)
/// as (content type, bytes), or `None` when the console has no such file.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match path {
        "/" | "/index.html" => Some((HTML, include_bytes!("console/index.html"))),
        "/app.js" => Some((JS, include_bytes!("console/app.js"))),
        "/style.css" => Some((CSS, include_bytes!("console/style.css"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::asset;

    #[test]
    fn serves_the_pages_files_and_nothing_else() {
        let (kind, index) = asset("/").unwrap();
        assert_eq!(kind, "text/html; charset=utf-8");
        assert_eq!(asset("/index.html").unwrap().1, index);
        assert_eq!(asset("/?from=bookmark").unwrap().1, index);
        let index = std::str::from_utf8(index).unwrap();
        assert!(index.contains("src=\"/app.js\"") && index.contains("href=\"/style.css\""));
        assert!(asset("/app.js").unwrap().0.starts_with("text/javascript"));
        assert!(asset("/style.css").unwrap().0.starts_with("text/css"));
        for missing in ["/nope", "/app.js/", "/../Cargo.toml", "/console/app.js", "index.html", ""] {
            assert!(asset(missing).is_none(), "{missing}");
        }
        // The machine may have no internet: the page must not need it.
        for path in ["/", "/app.js", "/style.css"] {
            let text = std::str::from_utf8(asset(path).unwrap().1).unwrap();
            assert!(!text.contains("http://") && !text.contains("https://"), "{path} names an external URL");
        }
    }
}
