//! The schedule of the JWT signing keys that every server sharing a store
//! follows: which key signs at a given time, when the next key is made (a
//! full access-token lifetime before it signs, so every server and every
//! relying party has fetched it from `/.well-known/jwks.json` before the
//! first token it signs is shown to them), and when an old key goes (once
//! the last token it signed has expired).
//!
//! Sans-I/O: [`plan`] looks at the keys' start times and the clock and says
//! what to add and what to delete; the service does it in the store. Every
//! server runs the same plan; two servers making the key for one instant
//! race on the store's unique `signs_from` and one of them wins, so the
//! instants are chosen to be the same on every server (the schedule's
//! grid, not each server's clock).

/// The rotation schedule, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// A key signs for this long before the next one takes over
    /// (`[admin.tokens] rotate_days`).
    pub rotate_every: u64,
    /// The longest an access token is accepted after it was signed:
    /// its lifetime plus the clock-skew leeway.
    pub token_life: u64,
}

impl Schedule {
    /// How long before it signs a new key is published: a full token
    /// life, and as much again so a server that polls late still makes it
    /// in time.
    pub fn publish_ahead(&self) -> u64 {
        self.token_life.saturating_mul(2)
    }

    /// The grid that instants chosen from a server's clock are rounded to,
    /// so servers that run the plan a little apart choose the same one.
    fn grid(&self) -> u64 {
        self.rotate_every.clamp(1, 86_400)
    }
}

/// A change the plan asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Make a new key that signs from this unix time.
    Insert {
        /// Unix time the key starts signing.
        signs_from: u64,
    },
    /// Drop this key: every token it signed has expired.
    Delete {
        /// The key's id.
        kid: String,
    },
}

/// Where a key stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signed before the current key; verifies its unexpired tokens.
    Previous,
    /// Signs new tokens.
    Current,
    /// Published; signs from its `signs_from`.
    Next,
}

/// The index of the key that signs at `now` among keys sorted by start
/// time: the last that has started (the first if none has, e.g. a clock
/// behind the others).
pub fn current_index(starts: &[u64], now: u64) -> Option<usize> {
    if starts.is_empty() {
        return None;
    }
    Some(starts.iter().rposition(|&s| s <= now).unwrap_or(0))
}

/// The state of each key (sorted by start time) at `now`.
pub fn states(starts: &[u64], now: u64) -> Vec<KeyState> {
    let cur = current_index(starts, now).unwrap_or(0);
    (0..starts.len())
        .map(|i| match i.cmp(&cur) {
            std::cmp::Ordering::Less => KeyState::Previous,
            std::cmp::Ordering::Equal => KeyState::Current,
            std::cmp::Ordering::Greater => KeyState::Next,
        })
        .collect()
}

/// What to change so the key set follows `schedule` at `now`. `keys` are
/// `(kid, signs_from)` sorted by `signs_from`.
pub fn plan(keys: &[(&str, u64)], now: u64, schedule: &Schedule) -> Vec<Step> {
    let starts: Vec<u64> = keys.iter().map(|k| k.1).collect();
    let Some(cur) = current_index(&starts, now) else {
        // First start: nothing was ever signed, so the first key may sign
        // at once. Its instant is on the grid so that servers starting
        // together make one key, not one each.
        let grid = schedule.grid();
        return vec![Step::Insert {
            signs_from: now / grid * grid,
        }];
    };
    let mut steps = Vec::new();
    // A key whose successor took over more than a token life ago signed
    // nothing that is still accepted.
    for i in 0..cur {
        if now >= starts[i + 1].saturating_add(schedule.token_life) {
            steps.push(Step::Delete {
                kid: keys[i].0.to_owned(),
            });
        }
    }
    let has_next = starts.len() > cur + 1;
    let due = starts[cur].saturating_add(schedule.rotate_every);
    if !has_next && now.saturating_add(schedule.publish_ahead()) >= due {
        steps.push(Step::Insert {
            signs_from: next_instant(due, now, schedule, 10),
        });
    }
    steps
}

/// The start of a key made at `now` whose turn is due at `due`: `due`
/// itself when that is still a token life away, else the first multiple
/// of `grid` seconds a token life from now (a server that was down past
/// the publishing time, or an operator's forced rotation).
fn next_instant(due: u64, now: u64, schedule: &Schedule, grid: u64) -> u64 {
    let earliest = now.saturating_add(schedule.token_life);
    if due >= earliest {
        return due;
    }
    earliest.div_ceil(grid).saturating_mul(grid)
}

/// A forced rotation (an operator's `POST /api/v1/keys/rotate`): a new key
/// that signs as soon as it safely can, a token life from now, unless one
/// is already published; `None` then.
pub fn force(keys: &[(&str, u64)], now: u64, schedule: &Schedule) -> Option<u64> {
    let starts: Vec<u64> = keys.iter().map(|k| k.1).collect();
    match current_index(&starts, now) {
        Some(cur) if starts.len() > cur + 1 => None,
        _ => Some(next_instant(0, now, schedule, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Schedule = Schedule {
        rotate_every: 1000,
        token_life: 100,
    };

    fn apply(keys: &mut Vec<(String, u64)>, steps: &[Step], name: &str) {
        for s in steps {
            match s {
                Step::Insert { signs_from } => {
                    if !keys.iter().any(|k| k.1 == *signs_from) {
                        keys.push((format!("{name}{signs_from}"), *signs_from));
                    }
                }
                Step::Delete { kid } => keys.retain(|k| &k.0 != kid),
            }
        }
        keys.sort_by_key(|k| k.1);
    }

    fn view(keys: &[(String, u64)]) -> Vec<(&str, u64)> {
        keys.iter().map(|(k, s)| (k.as_str(), *s)).collect()
    }

    #[test]
    fn first_key_signs_at_once_on_the_grid() {
        assert_eq!(
            plan(&[], 12_345, &S),
            vec![Step::Insert { signs_from: 12_000 }]
        );
    }

    #[test]
    fn next_key_is_published_two_token_lives_ahead_and_old_one_kept_a_token_life() {
        let keys = [("a", 1000)];
        assert!(plan(&keys, 1799, &S).is_empty());
        assert_eq!(
            plan(&keys, 1800, &S),
            vec![Step::Insert { signs_from: 2000 }]
        );
        let keys = [("a", 1000), ("b", 2000)];
        assert!(plan(&keys, 1999, &S).is_empty());
        assert_eq!(
            states(&[1000, 2000], 1999),
            [KeyState::Current, KeyState::Next]
        );
        assert_eq!(
            states(&[1000, 2000], 2000),
            [KeyState::Previous, KeyState::Current]
        );
        assert!(plan(&keys, 2099, &S).is_empty(), "a's tokens still live");
        assert_eq!(
            plan(&keys, 2100, &S),
            vec![Step::Delete { kid: "a".into() }]
        );
    }

    #[test]
    fn a_server_back_after_the_due_time_schedules_a_token_life_ahead() {
        // Due at 2000, seen only at 5003: the new key must not sign before
        // every server could have fetched it.
        assert_eq!(
            plan(&[("a", 1000)], 5003, &S),
            vec![Step::Insert { signs_from: 5110 }]
        );
    }

    #[test]
    fn forced_rotation_waits_a_token_life_and_never_stacks() {
        assert_eq!(force(&[("a", 1000)], 1500, &S), Some(1600));
        assert_eq!(force(&[("a", 1000), ("b", 1600)], 1500, &S), None);
    }

    #[test]
    fn no_token_is_ever_signed_by_a_key_published_less_than_a_token_life_before() {
        // Two servers running the plan at different moments for a long
        // time: every key was in the set a token life before it signed,
        // and stays until a token life after it stopped signing.
        let s = Schedule {
            rotate_every: 30,
            token_life: 7,
        };
        let mut keys: Vec<(String, u64)> = Vec::new();
        let mut first_seen: std::collections::HashMap<String, u64> = Default::default();
        let mut last_signer: Option<(String, u64)> = None;
        let mut signed_until: std::collections::HashMap<String, u64> = Default::default();
        for now in 100..1000u64 {
            for (server, offset) in [("x", 0), ("y", 1)] {
                if (now + offset) % 2 == 0 {
                    let steps = plan(&view(&keys), now, &s);
                    apply(&mut keys, &steps, server);
                }
            }
            // A key dropped signed its last token a token life ago or more.
            for (kid, last) in &signed_until {
                if !keys.iter().any(|k| &k.0 == kid) {
                    assert!(now >= last + s.token_life, "{kid} dropped at {now}");
                }
            }
            for k in &keys {
                first_seen.entry(k.0.clone()).or_insert(now);
            }
            let starts: Vec<u64> = keys.iter().map(|k| k.1).collect();
            let cur = &keys[current_index(&starts, now).unwrap()];
            if let Some((prev, _)) = &last_signer
                && prev != &cur.0
            {
                assert!(
                    now >= first_seen[&cur.0] + s.token_life || first_seen[&cur.0] == 100,
                    "{} signs at {now}, published at {}",
                    cur.0,
                    first_seen[&cur.0]
                );
            }
            last_signer = Some((cur.0.clone(), now));
            signed_until.insert(cur.0.clone(), now);
            assert!(keys.len() <= 3, "{keys:?}");
        }
        assert!(first_seen.len() > 25, "keys rotated: {}", first_seen.len());
    }
}
