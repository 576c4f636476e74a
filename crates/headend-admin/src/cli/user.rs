//! `headend user ...`: user management directly on the state directory's
//! store (no server needed; the running server picks revocations up within
//! seconds).

use std::path::Path;

use headend_store::Store;
use headend_store::auth::{AuditRecord, UserRecord, fold_username};

use super::{UserCommand, read_password};
use crate::api::unix_now;
use crate::api::users::valid_username;
use crate::config::Argon2Config;
use crate::core::Role;
use crate::{AdminError, password};

fn audit(store: &Store, action: &str, target: &str, result: &str) {
    let rec = AuditRecord {
        id: 0,
        at: unix_now(),
        actor: "local".into(),
        source: None,
        action: action.into(),
        target: Some(target.into()),
        result: result.into(),
        detail: None,
    };
    if let Err(e) = store.auth().audit_append(&rec) {
        eprintln!("warning: cannot write the audit log: {e}");
    }
}

fn missing(name: &str) -> AdminError {
    AdminError::Usage {
        reason: format!("no user {name:?} (see `headend user list`)"),
    }
}

/// Runs a `headend user` command on the configured store (by default
/// `state_dir/headend.db`).
pub fn run(
    cmd: UserCommand,
    store: &headend_store::StoreConfig,
    state_dir: &Path,
    argon: &Argon2Config,
) -> Result<(), AdminError> {
    headend_util::create_private_dir(state_dir).map_err(|source| AdminError::File {
        path: state_dir.to_path_buf(),
        action: "cannot create the state directory",
        source,
    })?;
    let store = Store::open(store, state_dir)?;
    let now = unix_now();
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).ok_or_else(|| AdminError::Usage {
                reason: format!("unknown role {role:?}: use viewer, operator or admin"),
            })?;
            let name = fold_username(&name);
            if !valid_username(&name) {
                return Err(AdminError::Usage {
                    reason: "user names are 1-64 characters of letters, digits and . _ @ -".into(),
                });
            }
            if store.auth().user(&name)?.is_some() {
                return Err(AdminError::Usage {
                    reason: format!("user {name:?} exists; use `headend user passwd`"),
                });
            }
            let pw = read_password(password_stdin, true)?;
            let phc = password::hash_blocking(argon, &pw)?;
            let added = store.auth().user_insert(&UserRecord::new(
                name.clone(),
                phc,
                role.as_str(),
                now,
            ))?;
            if !added {
                return Err(AdminError::Usage {
                    reason: format!("user {name:?} exists"),
                });
            }
            audit(&store, "user.add", &format!("{name} ({role})"), "ok");
            println!("added {name} ({role})");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let name = fold_username(&name);
            if store.auth().user(&name)?.is_none() {
                return Err(missing(&name));
            }
            let pw = read_password(password_stdin, true)?;
            let phc = password::hash_blocking(argon, &pw)?;
            let ids = store
                .auth()
                .user_set_password(&name, &phc, now)?
                .ok_or_else(|| missing(&name))?;
            audit(&store, "user.passwd", &name, "ok");
            println!("password of {name} changed; {} session(s) ended", ids.len());
        }
        UserCommand::Delete { name } => {
            let name = fold_username(&name);
            let d = store
                .auth()
                .user_delete(&name, now)?
                .ok_or_else(|| missing(&name))?;
            audit(&store, "user.delete", &name, "ok");
            println!(
                "deleted {name}; {} session(s) and {} api key(s) revoked (the audit log keeps their entries)",
                d.sessions.len(),
                d.api_keys.len()
            );
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<9} {:<9} {:<8} {:<5} LAST LOGIN",
                "USER", "ROLE", "STATE", "FAILURES", "MFA"
            );
            let mfa = store.mfa().mfa_users()?;
            for u in store.auth().users()? {
                let second = if mfa.binary_search(&u.username).is_ok() {
                    "totp"
                } else {
                    "-"
                };
                let state = if u.disabled {
                    "disabled".to_owned()
                } else if u.locked_until > now {
                    format!("locked {}s", u.locked_until - now)
                } else {
                    "active".to_owned()
                };
                let last = u.last_login.map_or_else(
                    || "never".to_owned(),
                    |t| format!("{}s ago", now.saturating_sub(t)),
                );
                println!(
                    "{:<24} {:<9} {:<9} {:<8} {:<5} {}",
                    u.username, u.role, state, u.failures, second, last
                );
            }
        }
        UserCommand::Disable { name } => {
            let name = fold_username(&name);
            let ids = store
                .auth()
                .user_set_disabled(&name, true, now)?
                .ok_or_else(|| missing(&name))?;
            audit(&store, "user.disable", &name, "ok");
            println!("disabled {name}; {} session(s) ended", ids.len());
        }
        UserCommand::Enable { name } => {
            let name = fold_username(&name);
            store
                .auth()
                .user_set_disabled(&name, false, now)?
                .ok_or_else(|| missing(&name))?;
            audit(&store, "user.enable", &name, "ok");
            println!("enabled {name}");
        }
        UserCommand::Unlock { name } => {
            let name = fold_username(&name);
            if !store.auth().user_unlock(&name)? {
                return Err(missing(&name));
            }
            audit(&store, "user.unlock", &name, "ok");
            println!("unlocked {name}");
        }
        UserCommand::Scope { name, scopes } => {
            let name = fold_username(&name);
            let parsed = crate::core::scope::Scopes::parse(&scopes)
                .map_err(|reason| AdminError::Usage { reason })?;
            let list = parsed.to_strings();
            // Tokens carry whole seconds: one issued in this very second
            // must die too, so the cut is the next second.
            if !store.api_keys().user_set_scopes(&name, &list, now + 1)? {
                return Err(missing(&name));
            }
            let shown = if list.is_empty() {
                "none".to_owned()
            } else {
                list.join(" ")
            };
            audit(&store, "user.scope", &format!("{name} ({shown})"), "ok");
            println!(
                "{name} now has the scopes: {shown}; access tokens with the old ones no longer work"
            );
        }
        UserCommand::Role { name, role } => {
            let name = fold_username(&name);
            let role = Role::parse(&role).ok_or_else(|| AdminError::Usage {
                reason: format!("unknown role {role:?}: use viewer, operator or admin"),
            })?;
            if !store.auth().user_set_role(&name, role.as_str(), now)? {
                return Err(missing(&name));
            }
            audit(&store, "user.role", &format!("{name} ({role})"), "ok");
            println!("{name} is now {role}; access tokens with the old role no longer work");
        }
    }
    Ok(())
}
