//! Per-device files rendered in memory from minijinja templates.
//!
//! A request path that matches a pattern such as `modems/{mac}.cfg` is
//! rendered from the template file with the request's variables (`client_ip`,
//! `filename`, each capture, `mac`/`mac_hex` when the pattern has `{mac}`) and
//! the client's lease (`lease.mac`, `lease.ip`, `lease.hostname`,
//! `lease.class`, or none) and its reservation's attributes
//! (`reservation.attributes.tier`, or none). The result is in memory, so its
//! size (tsize) is known.
//!
//! A template with an output format other than text (`format = "docsis"`)
//! hands the rendered text to the [`OutputFormat`] the binary prepared;
//! its output is cached by (template, rendered text), so a reboot storm of
//! modems that share a config costs one compile per distinct text. The
//! template file is read at each request, so an edit shows at the next
//! fetch; [`Templates::reload_formats`] (SIGHUP) re-reads secrets and
//! empties the cache.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use minijinja::{Environment, UndefinedBehavior, Value};
use regex::Regex;

use crate::TftpError;
use crate::config::TemplateConfig;
use crate::core::packet::ErrorCode;
use crate::core::transfer::Abort;
use crate::format::{FormatError, Formatter, OutputFormat, TextOnly};
use crate::lookup::LeaseInfo;
use crate::lookup::{LeaseLookup, format_mac, parse_mac};

/// Largest rendered file.
const MAX_RENDERED: usize = 16 * 1024 * 1024;
/// Formatted outputs kept; the cache is emptied when it reaches this.
const MAX_CACHED: usize = 65_536;

type Formats = Vec<Option<Arc<dyn OutputFormat>>>;
/// Formatted bytes by (template index, rendered text).
type Cache = HashMap<(usize, String), Arc<Vec<u8>>>;

struct Compiled {
    pattern: String,
    re: Regex,
    names: Vec<String>,
    file: PathBuf,
    bind_to_lease: bool,
}

/// The configured templates, in config order (first match wins).
pub struct Templates {
    list: Vec<Compiled>,
    configs: Vec<TemplateConfig>,
    formatter: Arc<dyn Formatter>,
    /// The output format of each template (None: text), replaced on reload.
    formats: RwLock<Formats>,
    /// Formatted bytes by (template index, rendered text).
    cache: Mutex<Cache>,
    /// Requests whose template failed to render or format.
    errors: AtomicU64,
    /// Formatted outputs served from the cache / computed.
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    /// Templates rendered (before any output format).
    renders: AtomicU64,
    /// Requests refused because the MAC in the path is not leased to the
    /// client (`bind_to_lease`).
    lease_refused: AtomicU64,
}

/// The IPv4 form of a client address (IPv4-mapped IPv6 included).
pub fn client_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

fn compile_pattern(pattern: &str) -> Result<(Regex, Vec<String>), String> {
    let mut re = String::from("^");
    let mut names = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        re.push_str(&regex::escape(&rest[..open]));
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("unclosed `{` in pattern")?;
        let name = &after[..close];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid || names.iter().any(|n| n == name) {
            return Err(format!("bad or repeated capture name `{{{name}}}`"));
        }
        re.push_str(&format!("(?P<{name}>[^/]+)"));
        names.push(name.to_owned());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("stray `}` in pattern".into());
    }
    re.push_str(&regex::escape(rest));
    re.push('$');
    let re = Regex::new(&re).map_err(|e| e.to_string())?;
    Ok((re, names))
}

/// Renders template file `file` with `vars` (undefined names are errors).
fn render_text(file: &std::path::Path, vars: &BTreeMap<String, Value>) -> Result<String, String> {
    let source = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    let tmpl = env.template_from_str(&source).map_err(|e| e.to_string())?;
    let out = tmpl.render(vars).map_err(|e| e.to_string())?;
    if out.len() > MAX_RENDERED {
        return Err("rendered file larger than 16 MiB".into());
    }
    Ok(out)
}

fn lease_value(l: &LeaseInfo) -> Value {
    let mut m: BTreeMap<&str, Value> = BTreeMap::new();
    m.insert("mac", Value::from(format_mac(&l.mac)));
    m.insert("ip", Value::from(l.ip.to_string()));
    m.insert("hostname", Value::from(l.hostname.clone()));
    m.insert("class", Value::from(l.class.clone()));
    Value::from_serialize(&m)
}

/// A problem found by [`Templates::check_samples`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleProblem {
    /// The template file.
    pub file: PathBuf,
    /// The line of the rendered text, when the format names one.
    pub line: Option<u32>,
    /// What is wrong.
    pub reason: String,
}

fn render_error(file: &std::path::Path, reason: impl std::fmt::Display) -> Abort {
    tracing::warn!(file = %file.display(), "TFTP template failed: {reason}");
    Abort {
        code: ErrorCode::NotDefined,
        message: "cannot render the requested file".into(),
    }
}

fn prepare_formats(
    configs: &[TemplateConfig],
    formatter: &dyn Formatter,
) -> Result<Formats, TftpError> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            formatter.prepare(c).map_err(|reason| TftpError::Config {
                key: format!("template[{i}].format"),
                reason,
            })
        })
        .collect()
}

/// Counters of the template layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TemplateStats {
    /// Requests refused because the template failed to render or format.
    pub errors: u64,
    /// Formatted files served from the cache.
    pub cache_hits: u64,
    /// Formatted files built (e.g. DOCSIS files compiled).
    pub cache_misses: u64,
    /// Templates rendered to text (each request a template served).
    pub renders: u64,
    /// Requests refused because the file is bound to another device's lease.
    pub lease_refused: u64,
}

impl Templates {
    /// Checks the patterns and that each template file exists and parses
    /// (text output only).
    pub fn compile(configs: &[TemplateConfig]) -> Result<Self, TftpError> {
        Self::compile_with(configs, Arc::new(TextOnly))
    }

    /// As [`Templates::compile`], with `formatter` preparing output formats.
    pub fn compile_with(
        configs: &[TemplateConfig],
        formatter: Arc<dyn Formatter>,
    ) -> Result<Self, TftpError> {
        let mut list = Vec::new();
        for (i, c) in configs.iter().enumerate() {
            let (re, names) = compile_pattern(&c.pattern).map_err(|reason| TftpError::Config {
                key: format!("template[{i}].pattern"),
                reason,
            })?;
            if c.bind_to_lease && !names.iter().any(|n| n == "mac") {
                return Err(TftpError::Config {
                    key: format!("template[{i}].bind_to_lease"),
                    reason: "needs a `{mac}` capture in the pattern".into(),
                });
            }
            let source = std::fs::read_to_string(&c.file).map_err(|e| TftpError::Template {
                file: c.file.clone(),
                reason: e.to_string(),
            })?;
            Environment::new()
                .template_from_str(&source)
                .map_err(|e| TftpError::Template {
                    file: c.file.clone(),
                    reason: e.to_string(),
                })?;
            list.push(Compiled {
                pattern: c.pattern.clone(),
                re,
                names,
                file: c.file.clone(),
                bind_to_lease: c.bind_to_lease,
            });
        }
        let formats = prepare_formats(configs, formatter.as_ref())?;
        Ok(Self {
            list,
            configs: configs.to_vec(),
            formatter,
            formats: RwLock::new(formats),
            cache: Mutex::new(HashMap::new()),
            errors: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            renders: AtomicU64::new(0),
            lease_refused: AtomicU64::new(0),
        })
    }

    /// Prepares the output formats again (re-reading secrets) and empties
    /// the cache; on error the running formats stay.
    pub fn reload_formats(&self) -> Result<(), TftpError> {
        let formats = prepare_formats(&self.configs, self.formatter.as_ref())?;
        if let Ok(mut f) = self.formats.write() {
            *f = formats;
        }
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        Ok(())
    }

    /// Renders every template that has an output format for a sample
    /// request (a `{mac}` of `sample.mac`, other captures `sample`, the
    /// lease `sample`) and formats it, returning each problem found.
    pub fn check_samples(&self, sample: &LeaseInfo) -> Vec<SampleProblem> {
        let formats = self.formats.read().map(|f| f.clone()).unwrap_or_default();
        let mut problems = Vec::new();
        for (t, format) in self.list.iter().zip(formats) {
            let Some(format) = format else { continue };
            let mut vars: BTreeMap<String, Value> = BTreeMap::new();
            let mut path = t.pattern.clone();
            for name in &t.names {
                let v = if name == "mac" {
                    vars.insert(
                        "mac_hex".into(),
                        Value::from(format_mac(&sample.mac).replace(':', "")),
                    );
                    format_mac(&sample.mac)
                } else {
                    "sample".to_owned()
                };
                path = path.replace(&format!("{{{name}}}"), &v);
                vars.insert(name.clone(), Value::from(v));
            }
            vars.insert("client_ip".into(), Value::from(sample.ip.to_string()));
            vars.insert("filename".into(), Value::from(path));
            vars.insert("lease".into(), lease_value(sample));
            // A sample modem without a reservation: templates must handle none.
            vars.insert("reservation".into(), Value::from(()));
            let result = render_text(&t.file, &vars)
                .map_err(|reason| FormatError { line: None, reason })
                .and_then(|text| format.apply(&text).map(|_| ()));
            if let Err(e) = result {
                problems.push(SampleProblem {
                    file: t.file.clone(),
                    line: e.line,
                    reason: e.reason,
                });
            }
        }
        problems
    }

    /// The template layer's counters.
    pub fn stats(&self) -> TemplateStats {
        TemplateStats {
            errors: self.errors.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            renders: self.renders.load(Ordering::Relaxed),
            lease_refused: self.lease_refused.load(Ordering::Relaxed),
        }
    }

    /// Renders `relative` for `client` if a template pattern matches it;
    /// `None` when no pattern matches (the name is then looked up as a file).
    pub fn resolve(
        &self,
        relative: &str,
        client: IpAddr,
        lookup: &dyn LeaseLookup,
    ) -> Option<Result<Vec<u8>, Abort>> {
        self.list.iter().enumerate().find_map(|(index, t)| {
            let caps = t.re.captures(relative)?;
            let mut vars: BTreeMap<String, Value> = BTreeMap::new();
            let mut mac = None;
            for name in &t.names {
                let text = caps.name(name).map(|m| m.as_str()).unwrap_or_default();
                if name == "mac" {
                    // A `{mac}` that is no MAC address does not match.
                    let parsed = parse_mac(text)?;
                    mac = Some(parsed);
                    vars.insert(name.clone(), Value::from(format_mac(&parsed)));
                    vars.insert(
                        "mac_hex".into(),
                        Value::from(format_mac(&parsed).replace(':', "")),
                    );
                } else {
                    vars.insert(name.clone(), Value::from(text));
                }
            }
            let out = self
                .render(t, relative, client, mac, vars, lookup)
                .and_then(|text| self.format(index, t, text));
            match &out {
                Ok(_) => {}
                Err(a) if a.code == ErrorCode::AccessViolation => {
                    self.lease_refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(out)
        })
    }

    /// Applies template `index`'s output format to `text`, through the cache.
    fn format(&self, index: usize, t: &Compiled, text: String) -> Result<Vec<u8>, Abort> {
        let format = self
            .formats
            .read()
            .ok()
            .and_then(|f| f.get(index).cloned().flatten());
        let Some(format) = format else {
            return Ok(text.into_bytes());
        };
        let key = (index, text);
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit.as_ref().clone());
        }
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        let bytes = format.apply(&key.1).map_err(|e| {
            tracing::warn!(file = %t.file.display(), pattern = %t.pattern, "TFTP template output failed: {e}");
            Abort {
                code: ErrorCode::NotDefined,
                message: "cannot build the requested config file".into(),
            }
        })?;
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(key, Arc::new(bytes.clone()));
        }
        Ok(bytes)
    }

    fn render(
        &self,
        t: &Compiled,
        relative: &str,
        client: IpAddr,
        mac: Option<[u8; 6]>,
        mut vars: BTreeMap<String, Value>,
        lookup: &dyn LeaseLookup,
    ) -> Result<String, Abort> {
        let v4 = client_v4(client);
        if t.bind_to_lease {
            let leased_to = mac.and_then(|m| lookup.ip_for_mac(m));
            if leased_to.is_none() || leased_to != v4 {
                tracing::warn!(
                    client = %client,
                    pattern = %t.pattern,
                    path = relative,
                    "TFTP refused: the MAC in the path is not leased to this client"
                );
                return Err(Abort {
                    code: ErrorCode::AccessViolation,
                    message: "access violation: file bound to another device".into(),
                });
            }
        }
        let lease = v4
            .and_then(|ip| lookup.lease_for_ip(ip))
            .map(|l| lease_value(&l));
        // The client's reservation: `reservation.attributes.NAME`, or none.
        let reservation = lease
            .as_ref()
            .and(v4)
            .and_then(|ip| lookup.reservation_attributes(ip))
            .map(|attributes| {
                let mut m: BTreeMap<&str, Value> = BTreeMap::new();
                m.insert("attributes", Value::from_serialize(&attributes));
                Value::from_serialize(&m)
            });
        vars.insert("reservation".into(), reservation.unwrap_or(Value::from(())));
        vars.insert("client_ip".into(), Value::from(client.to_string()));
        vars.insert("filename".into(), Value::from(relative));
        vars.insert("lease".into(), lease.unwrap_or(Value::from(())));
        let text = render_text(&t.file, &vars).map_err(|reason| render_error(&t.file, reason))?;
        self.renders.fetch_add(1, Ordering::Relaxed);
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::lookup::{LeaseInfo, Mac, NoLeases};

    struct OneLease;
    const MAC: Mac = [0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);

    impl LeaseLookup for OneLease {
        fn lease_for_ip(&self, ip: Ipv4Addr) -> Option<LeaseInfo> {
            (ip == IP).then(|| LeaseInfo {
                mac: MAC,
                ip: IP,
                hostname: Some("cm1".into()),
                class: Some("docsis".into()),
            })
        }
        fn ip_for_mac(&self, mac: Mac) -> Option<Ipv4Addr> {
            (mac == MAC).then_some(IP)
        }
        fn reservation_attributes(&self, ip: Ipv4Addr) -> Option<BTreeMap<String, String>> {
            (ip == IP).then(|| BTreeMap::from([("tier".to_owned(), "gold".to_owned())]))
        }
    }

    fn templates(text: &str, bind: bool) -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("modem.j2");
        std::fs::write(&file, text).unwrap();
        let t = Templates::compile(&[TemplateConfig {
            pattern: "modems/{mac}.cfg".into(),
            file,
            bind_to_lease: bind,
            format: "text".into(),
            shared_secret_file: None,
        }])
        .unwrap();
        (dir, t)
    }

    #[test]
    fn pattern_captures_and_lease_fill_the_template() {
        let (_d, t) = templates(
            "mac={{ mac }} ip={{ client_ip }} host={{ lease.hostname }} class={{ lease.class }}\n",
            false,
        );
        let out = t
            .resolve("modems/001A2B3C4D5E.cfg", IpAddr::V4(IP), &OneLease)
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "mac=00:1a:2b:3c:4d:5e ip=10.0.0.5 host=cm1 class=docsis\n"
        );
    }

    #[test]
    fn reservation_attributes_fill_the_template_or_are_none() {
        let (_d, t) = templates(
            "{% if reservation %}tier={{ reservation.attributes.tier }}{% else %}none{% endif %}\n",
            false,
        );
        let out = t
            .resolve("modems/001A2B3C4D5E.cfg", IpAddr::V4(IP), &OneLease)
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "tier=gold\n");
        let out = t
            .resolve("modems/001A2B3C4D5E.cfg", IpAddr::V4(IP), &NoLeases)
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "none\n");
    }

    #[test]
    fn non_matching_paths_and_non_macs_fall_through() {
        let (_d, t) = templates("x", false);
        assert!(
            t.resolve("modems/a.cfg", IpAddr::V4(IP), &NoLeases)
                .is_none()
        );
        assert!(
            t.resolve("other/001a2b3c4d5e.cfg", IpAddr::V4(IP), &NoLeases)
                .is_none()
        );
    }

    #[test]
    fn bound_template_is_refused_to_another_ip() {
        let (_d, t) = templates("x", true);
        let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 6));
        let err = t
            .resolve("modems/001a2b3c4d5e.cfg", other, &OneLease)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::AccessViolation);
        assert_eq!(t.stats().errors, 0, "a refusal is no template error");
        assert!(
            t.resolve("modems/001a2b3c4d5e.cfg", IpAddr::V4(IP), &OneLease)
                .unwrap()
                .is_ok()
        );
        let s = t.stats();
        assert_eq!((s.lease_refused, s.errors, s.renders), (1, 0, 1));
    }

    #[test]
    fn bind_to_lease_without_mac_capture_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "x").unwrap();
        let err = Templates::compile(&[TemplateConfig {
            pattern: "pxe/{name}.ipxe".into(),
            file,
            bind_to_lease: true,
            format: "text".into(),
            shared_secret_file: None,
        }]);
        assert!(matches!(err, Err(TftpError::Config { .. })));
    }

    #[test]
    fn missing_lease_renders_as_none_and_undefined_names_fail() {
        let (_d, t) = templates("{% if lease %}has{% else %}none{% endif %}", false);
        let out = t
            .resolve("modems/001a2b3c4d5e.cfg", IpAddr::V4(IP), &NoLeases)
            .unwrap();
        assert_eq!(out.unwrap(), b"none");
        let (_d, t) = templates("{{ typo }}", false);
        let out = t
            .resolve("modems/001a2b3c4d5e.cfg", IpAddr::V4(IP), &NoLeases)
            .unwrap();
        assert!(out.is_err());
    }

    struct Upper(AtomicU64);
    impl OutputFormat for Upper {
        fn apply(&self, rendered: &str) -> Result<Vec<u8>, FormatError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            if rendered.contains("bad") {
                return Err(FormatError {
                    line: Some(1),
                    reason: "bad input".into(),
                });
            }
            Ok(rendered.to_uppercase().into_bytes())
        }
    }
    struct UpperFormatter(Arc<Upper>);
    impl Formatter for UpperFormatter {
        fn prepare(&self, t: &TemplateConfig) -> Result<Option<Arc<dyn OutputFormat>>, String> {
            match t.format.as_str() {
                "upper" => Ok(Some(self.0.clone() as Arc<dyn OutputFormat>)),
                "text" => Ok(None),
                _ => Err("unknown".into()),
            }
        }
    }

    fn formatted(text: &str) -> (tempfile::TempDir, Templates, Arc<Upper>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("modem.j2");
        std::fs::write(&file, text).unwrap();
        let upper = Arc::new(Upper(AtomicU64::new(0)));
        let t = Templates::compile_with(
            &[TemplateConfig {
                pattern: "modems/{mac}.cm".into(),
                file,
                bind_to_lease: false,
                format: "upper".into(),
                shared_secret_file: None,
            }],
            Arc::new(UpperFormatter(upper.clone())),
        )
        .unwrap();
        (dir, t, upper)
    }

    #[test]
    fn formatted_output_is_cached_by_rendered_text() {
        let (_d, t, upper) = formatted("tier={{ lease.class }}");
        let get = |path: &str| t.resolve(path, IpAddr::V4(IP), &OneLease).unwrap().unwrap();
        assert_eq!(get("modems/001a2b3c4d5e.cm"), b"TIER=DOCSIS");
        // Another modem with the same rendered text: served from the cache.
        assert_eq!(get("modems/001a2b3c4d5f.cm"), b"TIER=DOCSIS");
        assert_eq!(upper.0.load(Ordering::Relaxed), 1);
        assert_eq!(t.stats().cache_hits, 1);
        t.reload_formats().unwrap();
        assert_eq!(get("modems/001a2b3c4d5e.cm"), b"TIER=DOCSIS");
        assert_eq!(upper.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn format_errors_are_error_0_and_counted() {
        let (_d, t, _) = formatted("bad");
        let err = t
            .resolve("modems/001a2b3c4d5e.cm", IpAddr::V4(IP), &NoLeases)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotDefined);
        assert_eq!(t.stats().errors, 1);
    }

    #[test]
    fn unknown_formats_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "x").unwrap();
        let err = Templates::compile(&[TemplateConfig {
            pattern: "m/{mac}.cm".into(),
            file,
            bind_to_lease: false,
            format: "docsis".into(),
            shared_secret_file: None,
        }]);
        assert!(matches!(err, Err(TftpError::Config { .. })));
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        for p in ["a/{mac", "a/{}", "a/{1x}", "a}/b", "{a}{a}"] {
            assert!(compile_pattern(p).is_err(), "{p}");
        }
    }
}
