//! Crash durability of the DNSSEC state: headend serves a signed zone while
//! the zone file is edited and reloaded (SIGHUP: a new signed version, its
//! serial, the saved signed zone and an IXFR journal entry are written) and a
//! ZSK rollover is started from the command line (a new private key and the
//! key state are written); both processes are killed with SIGKILL at moments
//! spread over the time a reload takes. After every kill each file of the
//! zone's state is the old version or the new one, never empty or partial:
//! the test decodes them itself, and a restarted headend takes them up and
//! answers DO=1 queries with signatures.

use crate::common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use common::{Headend, free_port, headend_bin};

const ZONE: &str = "crash.test";
const ROUNDS: u32 = 15;

/// The zone as edited in `round`: a few hundred names, so that signing and
/// writing the state take long enough for kills to land inside them, and
/// records that differ from round to round, so each reload has a diff.
fn zone_text(round: u32) -> String {
    let mut text = format!(
        "$ORIGIN {ZONE}.\n$TTL 300\n@ SOA ns1 hostmaster {} 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
         www A 192.0.2.{}\nround{round} TXT \"edited in round {round}\"\n",
        serial(round),
        10 + round
    );
    for i in 0..400 {
        text.push_str(&format!("h{i} A 10.0.{}.{}\n", i / 256, i % 256));
        if i % 4 == round % 4 {
            text.push_str(&format!("h{i} TXT \"round {round}\"\n"));
        }
    }
    text
}

fn config(port: u16) -> String {
    format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"{ZONE}\"\nfile = \"{ZONE}.zone\"\n\
         dnssec = {{ algorithm = \"ecdsap256sha256\", denial = \"nsec\" }}\n"
    )
}

/// A DO=1 query (RFC 3225) for `name`/`qtype` without recursion desired.
fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(u8::try_from(label.len()).expect("short label"));
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&u16::from(qtype).to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    // OPT: root owner, type 41, 4096-byte payload, DO set (RFC 6891 §6.1.3).
    q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]);
    q
}

/// Asks headend at `port`; panics when no answer comes within a few seconds.
fn ask(port: u16, name: &str, qtype: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = vec![0u8; 65_535];
    for id in 1..=5u16 {
        socket
            .send_to(&query(id, name, qtype), ("127.0.0.1", port))
            .expect("send");
        if let Ok(len) = socket.recv(&mut buf) {
            let msg = Message::from_vec(&buf[..len]).expect("a DNS message");
            if msg.metadata.id == id {
                return msg;
            }
        }
    }
    panic!("no answer for {name} {qtype} from 127.0.0.1:{port}");
}

/// A signed zone is served: DO=1 answers carry RRSIGs over the data.
fn assert_serves_signed(server: &Headend, port: u16, round: u32) {
    for (name, qtype) in [
        (format!("www.{ZONE}."), RecordType::A),
        (format!("{ZONE}."), RecordType::SOA),
        (format!("{ZONE}."), RecordType::DNSKEY),
    ] {
        let msg = ask(port, &name, qtype);
        let types: Vec<RecordType> = msg.answers.iter().map(Record::record_type).collect();
        assert!(
            msg.metadata.response_code == ResponseCode::NoError
                && types.contains(&qtype)
                && types.contains(&RecordType::RRSIG),
            "round {round}: {name} {qtype} after a restart: {types:?} ({:?}); logs:\n{}",
            msg.metadata.response_code,
            server.logs().join("\n")
        );
    }
}

/// Reads a u32 / u16 length-prefixed record, as the journal and the saved
/// signed zone store them.
fn take<const N: usize>(rest: &mut &[u8]) -> Option<usize> {
    let (head, tail) = rest.split_first_chunk::<N>()?;
    *rest = tail;
    Some(head.iter().fold(0usize, |n, &b| n << 8 | usize::from(b)))
}

fn take_record<const N: usize>(rest: &mut &[u8]) -> Option<Record> {
    let len = take::<N>(rest)?;
    let (one, tail) = rest.split_at_checked(len)?;
    *rest = tail;
    let mut dec = BinDecoder::new(one);
    let record = Record::read(&mut dec).ok()?;
    dec.is_empty().then_some(record)
}

/// The IXFR journal: `HEJ1`, then per difference the old and new SOA and
/// the removed and added records, each counted; it must decode to the end.
fn check_journal(file: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let mut rest = bytes
        .strip_prefix(b"HEJ1")
        .ok_or("no HEJ1 magic (empty or partial)")?;
    let mut diffs = 0;
    while !rest.is_empty() {
        for _ in 0..2 {
            let soa = take_record::<4>(&mut rest).ok_or("a truncated SOA")?;
            if soa.record_type() != RecordType::SOA {
                return Err(format!("difference {diffs} does not start with SOAs"));
            }
        }
        for _ in 0..2 {
            let n = take::<4>(&mut rest).ok_or("a truncated count")?;
            for _ in 0..n {
                take_record::<4>(&mut rest).ok_or("a truncated record")?;
            }
        }
        diffs += 1;
    }
    Ok(diffs)
}

/// `signed.wire`: its magic line, the record count, then exactly that many
/// length-prefixed records.
fn check_signed_wire(file: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let mut rest = bytes
        .strip_prefix(b"headend signed zone v1\n".as_slice())
        .ok_or("no magic line (empty or partial)")?;
    let count = take::<8>(&mut rest).ok_or("no record count")?;
    for i in 0..count {
        take_record::<2>(&mut rest).ok_or_else(|| format!("record {i} of {count} truncated"))?;
    }
    if !rest.is_empty() {
        return Err("bytes after the counted records".to_owned());
    }
    Ok(count)
}

/// Every file of the zone's state is complete: the key state and the saved
/// signed version parse, every key it names is a non-empty file, the serial
/// is a number, and the journal decodes. Temporary files (`.NAME.tmp`, left
/// when a kill lands between their creation and the rename) are not state:
/// the next write replaces them.
fn check_state(state: &Path, round: u32) {
    let keys_dir = state.join("dnssec").join(ZONE);
    let fail = |file: &Path, why: &str| -> ! {
        panic!(
            "round {round}: {} is not a complete file after kill -9: {why}",
            file.display()
        )
    };
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&keys_dir).expect("the zone's key folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".tmp") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a state file");
        if bytes.is_empty() {
            fail(&path, "empty");
        }
        match name.as_str() {
            "keys.json" | "signed.json" => {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    fail(&path, &e.to_string());
                }
            }
            "serial" => {
                let text = String::from_utf8_lossy(&bytes);
                if text.trim().parse::<u32>().is_err() || !text.ends_with('\n') {
                    fail(&path, &format!("{text:?} is not a serial"));
                }
            }
            "signed.wire" => {
                if let Err(e) = check_signed_wire(&path) {
                    fail(&path, &e);
                }
            }
            _ if name.ends_with(".pk8") => {}
            _ => fail(&path, "an unexpected file"),
        }
        seen.push(name);
    }
    assert!(
        seen.iter().any(|n| n == "keys.json"),
        "round {round}: no keys.json in {seen:?}"
    );
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(keys_dir.join("keys.json")).unwrap()).unwrap();
    for key in keys["keys"].as_array().expect("a list of keys") {
        let file = key["file"].as_str().expect("a key file name");
        let path = keys_dir.join(file);
        let len = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(
            len > 0,
            "round {round}: keys.json names {file}, which is missing or empty"
        );
    }
    let journal = state.join("journal").join(format!("{ZONE}.ixfr"));
    if journal.exists()
        && let Err(e) = check_journal(&journal)
    {
        fail(&journal, &e);
    }
}

/// Starts `headend dnssec rollover ZONE --zsk` (it writes a new private key
/// and the key state) without waiting for it.
fn start_rollover(config: &Path) -> Child {
    Command::new(headend_bin())
        .arg("dnssec")
        .arg("--config")
        .arg(config)
        .args(["rollover", ZONE, "--zsk"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn headend dnssec rollover")
}

/// Kills `server` with SIGKILL and gives back its folder and config.
fn kill_9(mut server: Headend) -> (tempfile::TempDir, PathBuf) {
    server.signal("KILL");
    let _ = server.child.wait();
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    (dir, server.config.clone())
}

/// Waits (bounded) until `server` has logged `needle` more than `before` times.
fn wait_for_count(server: &Headend, needle: &str, before: usize, round: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.count_logs(needle) <= before {
        assert!(
            Instant::now() < deadline,
            "round {round}: no {needle:?} within 30 s; logs:\n{}",
            server.logs().join("\n")
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The serial the journal's last difference leads to, if it decodes.
fn journal_serial(file: &Path) -> Option<u32> {
    let bytes = std::fs::read(file).ok()?;
    let mut rest = bytes.strip_prefix(b"HEJ1")?;
    let mut last = None;
    while !rest.is_empty() {
        take_record::<4>(&mut rest)?;
        last = match take_record::<4>(&mut rest)?.data {
            hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
            _ => None,
        };
        for _ in 0..2 {
            let n = take::<4>(&mut rest)?;
            for _ in 0..n {
                take_record::<4>(&mut rest)?;
            }
        }
    }
    last
}

/// Waits (bounded) until a reload from the served serial `before` is
/// journaled (the last step of a reload); the signer may have given the new
/// version a serial above the file's.
fn wait_for_journal(file: &Path, before: u32, server: &Headend, round: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while journal_serial(file).is_none_or(|s| s <= before) {
        assert!(
            Instant::now() < deadline,
            "round {round}: no reload from serial {before} journaled within 30 s; logs:\n{}",
            server.logs().join("\n")
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The SOA serial `server` answers with.
fn served_serial(port: u16) -> u32 {
    let msg = ask(port, &format!("{ZONE}."), RecordType::SOA);
    msg.answers
        .iter()
        .find_map(|r| match &r.data {
            hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .expect("an SOA answer")
}

fn serial(round: u32) -> u32 {
    2_026_120_000 + round
}

#[test]
fn dnssec_state_is_old_or_new_after_kill_9_during_reloads_and_rollovers() {
    let started = Instant::now();
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let zone_file = dir.path().join(format!("{ZONE}.zone"));
    std::fs::write(&zone_file, zone_text(0)).unwrap();
    let mut server = Headend::start_in(dir, &config(port));
    let state = server.dir.path().join("state");
    let journal = state.join("journal").join(format!("{ZONE}.ixfr"));
    assert_serves_signed(&server, port, 0);

    // How long a whole reload takes here (signing, saving, journaling): the
    // timed kills are spread over it.
    std::fs::write(&zone_file, zone_text(1)).unwrap();
    let before = served_serial(port);
    let hup = Instant::now();
    server.signal("HUP");
    wait_for_journal(&journal, before, &server, 1);
    let reload = hup.elapsed().max(Duration::from_millis(20));
    check_state(&state, 1);
    // And how long a rollover takes: its kills are spread over that.
    let cli_started = Instant::now();
    let status = start_rollover(&server.config).wait().expect("rollover");
    assert!(status.success(), "headend dnssec rollover failed: {status}");
    let cli_time = cli_started.elapsed();
    let keys_file = state.join("dnssec").join(ZONE).join("keys.json");
    let key_count = || {
        let keys: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&keys_file).expect("keys.json")).expect("json");
        keys["keys"].as_array().map_or(0, Vec::len)
    };
    let keys_before = key_count();

    let mut completed = 0;
    for round in 2..2 + ROUNDS {
        std::fs::write(&zone_file, zone_text(round)).unwrap();
        // Every other round, a rollover writes keys at the same time; it is
        // killed at a moment spread over its run, or let finish when the
        // reload is too.
        let rollover = (round % 2 == 0).then(|| {
            let mut cli = start_rollover(&server.config);
            let kill_after = (round % 3 != 2).then(|| cli_time * ((round / 2) % 6) / 5);
            std::thread::spawn(move || {
                if let Some(after) = kill_after {
                    std::thread::sleep(after);
                    let _ = cli.kill();
                }
                cli.wait()
            })
        });
        let signed = server.count_logs("zone signed");
        let before = served_serial(port);
        server.signal("HUP");
        match round % 3 {
            // At a moment spread over the reload, signing or saving.
            0 => std::thread::sleep(reload * (round - 2) / ROUNDS),
            // Just after the signed version is saved, as the journal is written.
            1 => {
                wait_for_count(&server, "zone signed", signed, round);
                std::thread::sleep(Duration::from_millis(u64::from(round % 4)));
            }
            // Once the reload is complete: the new version must be there.
            _ => {
                wait_for_journal(&journal, before, &server, round);
                completed += 1;
            }
        }
        if let Some(cli) = rollover {
            let status = cli.join().expect("rollover thread").expect("rollover");
            assert!(
                round % 3 != 2 || status.success(),
                "round {round}: rollover failed: {status}"
            );
        }
        let (dir, config) = kill_9(server);
        check_state(&state, round);
        if round % 3 == 2 {
            assert!(journal_serial(&journal).is_some_and(|s| s > before));
        }
        server = Headend::spawn(dir, config, &[]);
        assert_serves_signed(&server, port, round);
        for damaged in [
            "damaged",
            "truncated",
            "not a signed-zone file",
            "trailing bytes",
        ] {
            assert_eq!(
                server.count_logs(damaged),
                0,
                "round {round}: a state file was read as {damaged:?}; logs:\n{}",
                server.logs().join("\n")
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the rounds took too long"
        );
    }
    assert!(completed >= 4, "only {completed} rounds completed a reload");
    assert!(
        key_count() >= keys_before + 3,
        "the rollovers let finish did not all add their key"
    );
}
