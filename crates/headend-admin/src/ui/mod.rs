//! The web console at `/ui/`: server-rendered pages (minijinja) over the
//! same handlers, rules and audit records as the JSON API.
//!
//! A browser logs in with a password at `/ui/login` (the API's login, with
//! its rate limit and lockout) and then carries the access token and the
//! refresh token in two `HttpOnly; Secure; SameSite=Strict` cookies scoped to
//! `/ui`. When the access token has expired the gate rotates the refresh
//! token through the API's refresh; when the session is over the browser is
//! sent to the login page. Every `POST` must carry an `Origin` (or
//! `Referer`) of this server. Every change is made by calling the API
//! handler with the caller of the cookie session, so role checks,
//! validation, the zone lint and the audit log are the API's own; a viewer
//! sees no edit controls and a forged `POST` is refused by the handler.
//! Pages send a strict Content-Security-Policy: no inline script or style,
//! nothing loaded from elsewhere (one small script, `/ui/static/console.js`,
//! shows times in the browser's zone).
//!
//! Only the login page and the static files are reachable without a session.

mod admin;
mod dhcp;
mod session;
mod view;
mod zones;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::api::{Shared, Source};

pub(crate) use session::UiUser;

/// The Content-Security-Policy of every console answer: nothing from other
/// origins, no inline script or style, no framing, forms only to here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, behind its session gate.
pub(crate) fn router(app: Shared) -> Router<Shared> {
    Router::new()
        .route("/ui", get(|| async { view::see_other("/ui/") }))
        .route("/ui/", get(dhcp::dashboard))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/login/sso", get(session::sso_start))
        .route("/ui/login/sso/done", get(session::sso_done))
        .route("/ui/logout", axum::routing::post(session::logout))
        .route("/ui/static/console.css", get(view::css))
        .route("/ui/static/console.js", get(view::js))
        .route("/ui/leases", get(dhcp::leases))
        .route(
            "/ui/leases/{address}/release",
            get(dhcp::release_confirm).post(dhcp::release),
        )
        .route(
            "/ui/reservations",
            get(dhcp::reservations).post(dhcp::add_reservation),
        )
        .route(
            "/ui/reservations/{subnet}/{hwaddr}",
            get(dhcp::reservation).post(dhcp::save_attributes),
        )
        .route(
            "/ui/reservations/{subnet}/{hwaddr}/delete",
            get(dhcp::delete_confirm).post(dhcp::delete_reservation),
        )
        .route("/ui/zones", get(zones::list))
        .route("/ui/zones/{zone}", get(zones::show).post(zones::set_record))
        .route(
            "/ui/zones/{zone}/delete",
            axum::routing::post(zones::delete_record),
        )
        .route("/ui/audit", get(admin::audit))
        .route("/ui/users", get(admin::users).post(admin::add_user))
        .route(
            "/ui/users/{name}/role",
            axum::routing::post(admin::set_role),
        )
        .route(
            "/ui/users/{name}/disable",
            axum::routing::post(admin::disable),
        )
        .route(
            "/ui/users/{name}/delete",
            get(admin::delete_user_confirm).post(admin::delete_user),
        )
        .route("/ui/account/mfa", axum::routing::post(admin::mfa_enrol))
        .route(
            "/ui/account/mfa/confirm",
            axum::routing::post(admin::mfa_confirm),
        )
        .route(
            "/ui/users/{name}/enable",
            axum::routing::post(admin::enable),
        )
        .route(
            "/ui/sessions/{id}/revoke",
            axum::routing::post(admin::revoke_session),
        )
        .route(
            "/ui/account",
            get(admin::account).post(admin::change_password),
        )
        .route_layer(middleware::from_fn_with_state(app, gate))
}

/// Paths reachable without a session.
fn public(path: &str) -> bool {
    matches!(path, "/ui/login" | "/ui/login/sso" | "/ui/login/sso/done")
        || path.starts_with("/ui/static/")
}

/// The console's gate: the Origin check on every `POST`, the session (with
/// a refresh when the access token has expired), and the security headers.
async fn gate(
    State(app): State<Shared>,
    Source(ip): Source,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let post = req.method() == Method::POST;
    let mut resp = if post && !crate::api::auth::origin_is_own(req.headers()) {
        metrics::counter!("headend_admin_refused_total", "reason" => "csrf").increment(1);
        view::plain_error(
            StatusCode::FORBIDDEN,
            "This form was not sent from this console (its Origin is missing or another site's); nothing was changed.",
        )
    } else if public(&path) {
        next.run(req).await
    } else {
        match session::resolve(&app, req.headers(), ip).await {
            Some((user, cookies)) => {
                req.extensions_mut().insert(user);
                let mut resp = next.run(req).await;
                for c in cookies {
                    resp.headers_mut().append(header::SET_COOKIE, c);
                }
                resp
            }
            None => {
                let back = if post {
                    // The form is not replayed after the login: say so.
                    let from = req
                        .headers()
                        .get(header::REFERER)
                        .and_then(|r| r.to_str().ok())
                        .and_then(|r| r.find("/ui/").map(|i| r[i..].to_owned()))
                        .unwrap_or_else(|| "/ui/".to_owned());
                    format!("/ui/login?expired=1&next={}", view::query_escape(&from))
                } else {
                    let full = req
                        .uri()
                        .path_and_query()
                        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
                    format!("/ui/login?next={}", view::query_escape(&full))
                };
                let mut resp = view::see_other(&back);
                for c in session::clear_cookies() {
                    resp.headers_mut().append(header::SET_COOKIE, c);
                }
                resp
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// A redirect target from a `next` parameter: only a path of the console
/// (no other host, no scheme), else the dashboard.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/ui/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_kept_only_for_console_paths() {
        assert_eq!(safe_next(Some("/ui/leases?mac=aa")), "/ui/leases?mac=aa");
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil",
            "/api/v1/users",
            "/ui/\\evil",
            "/ui/\nx",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn only_login_and_static_files_are_public() {
        assert!(public("/ui/login"));
        assert!(public("/ui/login/sso"));
        assert!(public("/ui/login/sso/done"));
        assert!(public("/ui/static/console.css"));
        for p in [
            "/ui/",
            "/ui/leases",
            "/ui/users",
            "/ui/login/x",
            "/ui/logout",
        ] {
            assert!(!public(p), "{p}");
        }
    }
}
