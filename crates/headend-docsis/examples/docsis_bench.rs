//! Benchmark helper for bench/docsis.sh.
//!
//! `docsis_bench speed N`: compiles a realistic per-modem config (about 40
//! TLVs: two service flows, five classifiers, ten SNMP objects, BPI, a CVC)
//! N times on this thread, each with a different MAC (cold: every compile
//! is a parse, encode, MD5 and HMAC-MD5), then N lookups of already compiled
//! files by their rendered text, as the TFTP cache does (cached).
//!
//! `docsis_bench render-dir TEMPLATE KEYFILE OUTDIR COUNT`: writes COUNT
//! files `OUTDIR/<mac hex>.cm`, TEMPLATE with `{{ mac_hex }}` replaced and
//! compiled with the key in KEYFILE, byte for byte what headend serves for
//! that template (the reference files and the tftpd-hpa root).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use headend_docsis::{NoFiles, Options, compile};

/// The realistic per-modem config; `{{ mac_hex }}` is replaced per modem.
const CONFIG: &str = r#"Main
{
    NetworkAccess 1;
    MaxCPE 4;
    GlobalPrivacyEnable 1;
    MaxClassifiers 20;
    BaselinePrivacy { AuthTimeout 10; ReAuthTimeout 10; AuthGraceTime 600; OperTimeout 10; ReKeyTimeout 10; TEKGraceTime 600; AuthRejectTimeout 60; SAMapWaitTimeout 1; SAMapMaxRetries 4; }
    UsServiceFlow { UsServiceFlowRef 1; QosParamSetType 7; TrafficPriority 1; MaxRateSustained 20000000; MaxTrafficBurst 3044; SchedulingType 2; }
    DsServiceFlow { DsServiceFlowRef 2; QosParamSetType 7; TrafficPriority 1; MaxRateSustained 100000000; MaxTrafficBurst 20000; }
    UsPacketClass { ClassifierRef 1; ServiceFlowRef 1; RulePriority 100; ActivationState 1; IpPacketClassifier { IpProto 17; DstPortStart 5060; DstPortEnd 5061; } }
    UsPacketClass { ClassifierRef 2; ServiceFlowRef 1; RulePriority 90; ActivationState 1; IpPacketClassifier { IpProto 6; DstPortStart 80; DstPortEnd 80; } }
    UsPacketClass { ClassifierRef 3; ServiceFlowRef 1; RulePriority 80; ActivationState 1; IpPacketClassifier { IpTos 0x00fcb8; } }
    DsPacketClass { ClassifierRef 4; ServiceFlowRef 2; RulePriority 100; ActivationState 1; IpPacketClassifier { IpProto 17; SrcPortStart 5060; SrcPortEnd 5061; } }
    DsPacketClass { ClassifierRef 5; ServiceFlowRef 2; RulePriority 90; ActivationState 1; IpPacketClassifier { IpSrcAddr 10.0.0.0; IpSrcMask 255.0.0.0; } }
    SnmpMibObject sysName.0 String "cm-{{ mac_hex }}";
    SnmpMibObject sysContact.0 String "noc@isp.example";
    SnmpMibObject docsDevNmAccessIp.1 IPAddress 10.1.1.1;
    SnmpMibObject docsDevNmAccessIpMask.1 IPAddress 255.255.255.255;
    SnmpMibObject docsDevNmAccessCommunity.1 String "private";
    SnmpMibObject docsDevNmAccessControl.1 Integer 3;
    SnmpMibObject docsDevNmAccessInterfaces.1 HexString 0xc0;
    SnmpMibObject docsDevNmAccessStatus.1 Integer 4;
    SnmpMibObject docsDevCpeIpMax.0 Integer 4;
    SnmpMibObject docsDevFilterIpDefault.0 Integer 1;
    SnmpWriteControl docsDevNmAccessTable 0;
    MfgCVCData 0x308201a030820109a003020102020101300d06092a864886f70d0101050500301e311c301a06035504030c13446f63736973204d667220435643205465737430;
}
"#;

/// Nanoseconds this process has run on a CPU (/proc/self/schedstat), so the
/// rates are per CPU-second even on a busy machine.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn mac_hex(i: usize) -> String {
    format!("00005e{:06x}", i & 0xff_ffff)
}

fn run(args: &[String]) -> Result<String, String> {
    let usage = "usage: docsis_bench speed N | render-dir TEMPLATE KEYFILE OUTDIR COUNT";
    let num = |i: usize| -> Result<usize, String> {
        args.get(i)
            .ok_or(usage)?
            .parse()
            .map_err(|_| format!("bad number {:?}", args.get(i)))
    };
    let opts = Options {
        key: b"bench-secret",
        mta: false,
        mta_hash: false,
    };
    match args.get(1).map(String::as_str) {
        Some("speed") => {
            let n = num(2)?;
            let texts: Vec<String> = (0..n.min(10_000))
                .map(|i| CONFIG.replace("{{ mac_hex }}", &mac_hex(i)))
                .collect();
            let first = compile(&texts[0], &opts, &NoFiles).map_err(|e| e.to_string())?;
            let tlvs = headend_docsis::decode(&first).map_err(|e| e.to_string())?;
            let mut bytes = 0usize;
            let (t, c) = (Instant::now(), cpu_ns());
            for i in 0..n {
                let out =
                    compile(&texts[i % texts.len()], &opts, &NoFiles).map_err(|e| e.to_string())?;
                bytes += out.len();
            }
            let cold = n as f64 / t.elapsed().as_secs_f64();
            let cold_cpu = n as f64 * 1e9 / (cpu_ns() - c).max(1) as f64;
            let mut cache: HashMap<(usize, String), Arc<Vec<u8>>> = HashMap::new();
            for text in &texts {
                let out = compile(text, &opts, &NoFiles).map_err(|e| e.to_string())?;
                cache.insert((0, text.clone()), Arc::new(out));
            }
            let (t, c) = (Instant::now(), cpu_ns());
            for i in 0..n {
                let key = (0, texts[i % texts.len()].clone());
                let hit = cache.get(&key).ok_or("cache miss")?;
                bytes += hit.len();
            }
            let cached = n as f64 / t.elapsed().as_secs_f64();
            let cached_cpu = n as f64 * 1e9 / (cpu_ns() - c).max(1) as f64;
            Ok(format!(
                "top_level_tlvs={} file_bytes={} cold_per_cpu_sec={cold_cpu:.0} cached_per_cpu_sec={cached_cpu:.0} (wall clock: cold {cold:.0}/s, cached {cached:.0}/s; checksum {bytes})",
                tlvs.tlvs.len(),
                bytes / (2 * n).max(1)
            ))
        }
        Some("render-dir") => {
            let template =
                std::fs::read_to_string(args.get(2).ok_or(usage)?).map_err(|e| e.to_string())?;
            let mut key = std::fs::read(args.get(3).ok_or(usage)?).map_err(|e| e.to_string())?;
            while matches!(key.last(), Some(b'\n' | b'\r')) {
                key.pop();
            }
            let dir = std::path::PathBuf::from(args.get(4).ok_or(usage)?);
            let count = num(5)?;
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let opts = Options { key: &key, ..opts };
            for i in 0..count {
                let mac = mac_hex(i);
                let text = template.replace("{{ mac_hex }}", &mac);
                let out = compile(&text, &opts, &NoFiles).map_err(|e| e.to_string())?;
                std::fs::write(dir.join(format!("{mac}.cm")), out).map_err(|e| e.to_string())?;
            }
            Ok(format!("wrote {count} files to {}", dir.display()))
        }
        _ => Err(usage.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("docsis_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
