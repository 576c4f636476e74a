//! The loopback half of `headend ctl login --sso` (RFC 8252 §7.3): waits
//! for the browser's redirect to `http://127.0.0.1:PORT/callback`, checks
//! its `state`, answers the browser a short page and hands back the
//! one-time code.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use crate::AdminError;

/// What one redirect carried.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// `code` with the expected state.
    Code(String),
    /// `error` (and its description) with the expected state.
    Refused(String),
    /// Not for this login (another path, a wrong or missing state).
    Other,
}

/// Decodes `%XX` and `+` of a query value.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the request line of `GET /callback?...` and judges it.
pub(crate) fn judge(request_line: &str, state: &str) -> Redirect {
    let mut parts = request_line.split(' ');
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return Redirect::Other;
    };
    let Some(query) = target.strip_prefix("/callback?") else {
        return Redirect::Other;
    };
    let mut code = None;
    let mut error = None;
    let mut description = String::new();
    let mut got_state = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "code" => code = Some(v),
            "state" => got_state = Some(v),
            "error" => error = Some(v),
            "error_description" => description = v,
            _ => {}
        }
    }
    if got_state.as_deref() != Some(state) {
        return Redirect::Other;
    }
    match (code, error) {
        (_, Some(e)) => Redirect::Refused(format!("{e}: {description}")),
        (Some(c), None) if !c.is_empty() => Redirect::Code(c),
        _ => Redirect::Other,
    }
}

fn answer(mut stream: TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>headend</title><p>{}</p>",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
}

fn request_line(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().map(str::to_owned)
}

/// Waits up to `timeout` for the redirect of this login; answers its code.
pub(crate) fn wait_for_code(
    listener: TcpListener,
    state: &str,
    timeout: Duration,
) -> Result<String, AdminError> {
    let (tx, rx) = mpsc::channel();
    let state = state.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let line = request_line(&mut stream).unwrap_or_default();
            match judge(&line, &state) {
                Redirect::Code(c) => {
                    answer(
                        stream,
                        "200 OK",
                        "Logged in to headend. You can close this window.",
                    );
                    let _ = tx.send(Ok(c));
                    return;
                }
                Redirect::Refused(why) => {
                    answer(stream, "403 Forbidden", &format!("Login refused: {why}"));
                    let _ = tx.send(Err(why));
                    return;
                }
                Redirect::Other => answer(
                    stream,
                    "404 Not Found",
                    "Not the login this client waits for.",
                ),
            }
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(code)) => Ok(code),
        Ok(Err(why)) => Err(AdminError::Api {
            status: 403,
            message: format!("single sign-on refused: {why}"),
        }),
        Err(_) => Err(AdminError::Usage {
            reason: format!(
                "no single sign-on redirect within {} s; run the login again",
                timeout.as_secs()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_is_judged_by_its_state() {
        assert_eq!(
            judge("GET /callback?code=abc&state=s1 HTTP/1.1", "s1"),
            Redirect::Code("abc".into())
        );
        assert_eq!(
            judge("GET /callback?code=abc&state=s2 HTTP/1.1", "s1"),
            Redirect::Other
        );
        assert_eq!(
            judge("GET /callback?code=abc HTTP/1.1", "s1"),
            Redirect::Other
        );
        assert_eq!(judge("GET /favicon.ico HTTP/1.1", "s1"), Redirect::Other);
        assert_eq!(
            judge(
                "GET /callback?error=access_denied&error_description=no+role%20here&state=s1 HTTP/1.1",
                "s1"
            ),
            Redirect::Refused("access_denied: no role here".into())
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%é1"), "%é1");
        assert_eq!(percent_decode("a%2Fb"), "a/b");
    }
}
