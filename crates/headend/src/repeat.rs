//! Repeated identical warnings logged once per window: a looping client, a
//! full disk or a peer that is down would otherwise write the same line
//! thousands of times and bury everything else. A warning or error is
//! identical to an earlier one when it comes from the same place with the
//! same field values; the first passes and the copies within the window
//! are dropped, so each distinct warning still shows at least once a window.
//! Info and debug lines (the lease lines among them) are never held back.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Warnings kept apart at most: past this, entries older than the window go.
const MAX_KEYS: usize = 4096;

/// The layer: holds back copies of a warning or error within `window`.
pub(crate) struct RepeatLimit {
    window: Duration,
    seen: Mutex<HashMap<u64, Instant>>,
    hasher: std::collections::hash_map::RandomState,
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
}

impl RepeatLimit {
    /// Identical warnings pass once per `window`.
    pub(crate) fn new(window: Duration) -> Self {
        Self::with_clock(window, Instant::now)
    }

    /// The same, with the time read from `clock`.
    fn with_clock(window: Duration, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        Self {
            window,
            seen: Mutex::new(HashMap::new()),
            hasher: std::collections::hash_map::RandomState::new(),
            clock: Box::new(clock),
        }
    }
}

/// The message and every field value of an event, as text.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for RepeatLimit {
    fn event_enabled(&self, event: &Event<'_>, _cx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() > Level::WARN {
            return true;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let mut h = self.hasher.build_hasher();
        h.write(meta.target().as_bytes());
        h.write_u32(meta.line().unwrap_or(0));
        h.write(meta.file().unwrap_or("").as_bytes());
        h.write(text.message.as_bytes());
        h.write(text.fields.as_bytes());
        let key = h.finish();
        let now = (self.clock)();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&since) = seen.get(&key)
            && now.duration_since(since) < self.window
        {
            return false;
        }
        if seen.len() >= MAX_KEYS {
            let window = self.window;
            seen.retain(|_, since| now.duration_since(*since) < window);
        }
        seen.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::RepeatLimit;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(window: Duration, emit: impl FnOnce()) -> Vec<String> {
        logged_with(RepeatLimit::new(window), emit)
    }

    fn logged_with(limit: RepeatLimit, emit: impl FnOnce()) -> Vec<String> {
        let out = Capture::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .with(limit);
        tracing::subscriber::with_default(subscriber, emit);
        let mut text = out.0.lock().unwrap().clone();
        text.flush().unwrap();
        String::from_utf8(text)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn warn(peer: &str) {
        tracing::warn!(%peer, "cannot reach {peer}: Connection refused");
    }

    #[test]
    fn identical_warnings_pass_once_per_window_and_others_pass() {
        let lines = logged(Duration::from_secs(60), || {
            for _ in 0..50 {
                warn("a");
            }
            warn("b");
            for i in 0..3 {
                tracing::info!("lease {i}");
                tracing::info!("lease {i}");
            }
        });
        assert_eq!(
            lines.iter().filter(|l| l.contains("reach a")).count(),
            1,
            "{lines:#?}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.contains("reach b")).count(),
            1,
            "{lines:#?}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.contains("INFO")).count(),
            6,
            "info lines pass"
        );
    }

    #[test]
    fn after_the_window_the_warning_passes_again() {
        // The layer's clock is the test's: no sleep, no race with a slow host.
        let start = Instant::now();
        let offset = Arc::new(Mutex::new(Duration::ZERO));
        let clock = {
            let offset = Arc::clone(&offset);
            move || start + *offset.lock().unwrap()
        };
        let limit = RepeatLimit::with_clock(Duration::from_secs(60), clock);
        let lines = logged_with(limit, || {
            for _ in 0..5 {
                warn("a");
            }
            *offset.lock().unwrap() = Duration::from_secs(59);
            warn("a");
            *offset.lock().unwrap() = Duration::from_secs(61);
            warn("a");
        });
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("cannot reach a"))
                .count(),
            2,
            "{lines:#?}"
        );
    }
}
