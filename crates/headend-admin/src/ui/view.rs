//! Rendering: the templates (compiled into the binary, HTML-escaped), the
//! page context every signed-in page shares, the static files, and small
//! helpers for redirects, errors and times.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{AutoEscape, Environment, Value};
use serde::Serialize;

use super::UiUser;
use crate::core::Role;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("leases.html", include_str!("templates/leases.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    (
        "reservations.html",
        include_str!("templates/reservations.html"),
    ),
    (
        "reservation.html",
        include_str!("templates/reservation.html"),
    ),
    ("zones.html", include_str!("templates/zones.html")),
    ("zone.html", include_str!("templates/zone.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("users.html", include_str!("templates/users.html")),
    ("account.html", include_str!("templates/account.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// The template environment: every template HTML-escaped, plus the `ts`
/// filter for times.
pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // The templates are part of the binary; the unit tests render each.
            tracing::error!("console template {name} does not compile: {e}");
        }
    }
    env.add_filter("ts", |secs: Option<u64>| time_html(secs.unwrap_or(0)));
    env.add_filter("seg", |s: String| segment(&s));
    env
}

/// The templates, compiled once per process.
fn templates() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(environment)
}

/// `<time>` for a unix time: UTC in the text and the title; the console's
/// script rewrites the text in the browser's zone and keeps UTC on hover.
pub(crate) fn time_html(secs: u64) -> Value {
    if secs == 0 {
        return Value::from("—");
    }
    let utc = headend_util::time::utc(i64::try_from(secs).unwrap_or(i64::MAX));
    let iso = utc.replace(' ', "T");
    Value::from_safe_string(format!(
        "<time datetime=\"{iso}Z\" title=\"{utc} UTC\">{utc} UTC</time>"
    ))
}

/// A page to render: a template and its context.
pub(crate) struct Page {
    template: &'static str,
    ctx: BTreeMap<&'static str, Value>,
    status: StatusCode,
}

impl Page {
    /// A page without a signed-in user (the login page).
    pub(crate) fn new(template: &'static str) -> Self {
        Self {
            template,
            ctx: BTreeMap::new(),
            status: StatusCode::OK,
        }
    }

    /// A page of the signed-in `user`, with `nav` marked as the current section.
    pub(crate) fn of(template: &'static str, user: &UiUser, nav: &'static str) -> Self {
        let role = user.caller.role;
        Self::new(template)
            .with("user", &user.caller.user)
            .with("role", role.as_str())
            .with("can_edit", role >= Role::Operator)
            .with("is_admin", role >= Role::Admin)
            .with("session_ends", user.session_ends)
            .with("nav", nav)
            .with("errors", BTreeMap::<String, String>::new())
    }

    /// Adds a value to the context.
    pub(crate) fn with(mut self, key: &'static str, value: impl Serialize) -> Self {
        self.ctx.insert(key, Value::from_serialize(value));
        self
    }

    /// The HTTP status of the answer (200 unless set).
    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Renders the page (a template error is logged, never shown).
    pub(crate) fn render(self) -> Response {
        let rendered = templates()
            .get_template(self.template)
            .and_then(|t| t.render(&self.ctx));
        match rendered {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(
                    template = self.template,
                    "console page failed to render: {e:#}"
                );
                plain_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
        }
    }
}

/// An error page for `user` with the API's message (never internal text:
/// the API's own errors carry none).
pub(crate) fn error_page(user: &UiUser, status: StatusCode, message: &str) -> Response {
    Page::of("error.html", user, "")
        .with("message", message)
        .with("status", status.as_u16())
        .status(status)
        .render()
}

/// 303 See Other to `to` (after a form, and to the login page).
pub(crate) fn see_other(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A minimal error page that needs no template (the gate's refusals).
pub(crate) fn plain_error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>headend: {code}</title>\
         <link rel=\"stylesheet\" href=\"/ui/static/console.css\"></head><body><main>\
         <h1>{code}</h1><p class=\"error\" role=\"alert\">{msg}</p><p><a href=\"/ui/\">Back to the console</a></p>\
         </main></body></html>",
        code = status.as_u16(),
        msg = html_escape(message)
    );
    (status, Html(body)).into_response()
}

/// Escapes text for HTML.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query or path component (RFC 3986 unreserved kept).
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path segment, percent-encoded (`/` too).
pub(crate) fn segment(s: &str) -> String {
    query_escape(s).replace('/', "%2F")
}

/// GET /ui/static/console.css.
pub(crate) async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/console.css"),
    )
        .into_response()
}

/// GET /ui/static/console.js.
pub(crate) async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("static/console.js"),
    )
        .into_response()
}

/// The message of a `?done=` code after a successful form.
pub(crate) fn done_message(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "released" => "The lease was released.",
        "reservation-added" => "The reservation was added.",
        "reservation-deleted" => "The reservation was deleted.",
        "attributes-saved" => "The attributes were saved.",
        "record-saved" => "The record set was saved and is being served.",
        "record-deleted" => "The record set was deleted.",
        "user-added" => "The user was added.",
        "role-changed" => "The role was changed.",
        "user-disabled" => "The user was disabled and their sessions ended.",
        "user-enabled" => "The user was enabled.",
        "user-deleted" => "The user was deleted; their sessions and API keys were revoked.",
        "session-revoked" => "The session was revoked.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn text_is_escaped_in_templates_and_errors() {
        let env = environment();
        let html = env
            .get_template("login.html")
            .unwrap()
            .render(minijinja::context! { error => "<script>x</script>", next => "/ui/" })
            .unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;"), "{html}");
        assert!(!html.contains("<script>x"), "{html}");
        assert_eq!(
            html_escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }

    #[test]
    fn times_carry_utc_for_the_script_and_the_title() {
        let v = time_html(86_400 + 3_661);
        assert_eq!(
            v.to_string(),
            "<time datetime=\"1970-01-02T01:01:01Z\" title=\"1970-01-02 01:01:01 UTC\">1970-01-02 01:01:01 UTC</time>"
        );
        assert_eq!(time_html(0).to_string(), "—");
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(
            query_escape("/ui/leases?mac=a b&x"),
            "/ui/leases%3Fmac%3Da%20b%26x"
        );
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
