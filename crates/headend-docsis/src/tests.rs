//! Whole-file behaviour: compile, MICs, decode, round trips.

use md5::{Digest as _, Md5};

use super::*;

const KEY: &[u8] = b"cmts-secret";

fn opts() -> Options<'static> {
    Options {
        key: KEY,
        mta: false,
        mta_hash: true,
    }
}

fn cm(src: &str) -> Vec<u8> {
    compile(src, &opts(), &NoFiles).unwrap()
}

fn round_trip(bytes: &[u8]) {
    let text = decode(bytes).unwrap().to_text();
    let mta = decode(bytes).unwrap().mta;
    let mta_hash = verify(bytes, None).unwrap().mta_hash.is_some();
    let again = compile(
        &text,
        &Options {
            key: KEY,
            mta,
            mta_hash,
        },
        &NoFiles,
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again, bytes, "{text}");
}

#[test]
fn minimal_file_has_mics_end_marker_and_padding() {
    let b = cm("Main { NetworkAccess 1; }");
    assert_eq!(&b[..3], &[3, 1, 1]);
    assert_eq!(&b[3..5], &[6, 16]);
    assert_eq!(&b[5..21], Md5::digest([3, 1, 1]).as_slice());
    assert_eq!(&b[21..23], &[7, 16]);
    assert_eq!(b[39], 255);
    assert_eq!(b.len() % 4, 0);
    assert!(b[40..].iter().all(|x| *x == 0));
    let r = verify(&b, Some(KEY)).unwrap();
    assert_eq!((r.cm_mic, r.cmts_mic), (Some(true), Some(true)));
    let r = verify(&b, Some(b"wrong")).unwrap();
    assert_eq!(r.cmts_mic, Some(false));
}

#[test]
fn cmts_mic_covers_listed_tlvs_in_spec_order() {
    // TLV 18 before TLV 3 in the file; the digest takes 3 first, and
    // ignores TLV 11 entirely.
    let b = cm("Main { MaxCPE 4; SnmpMibObject sysName.0 String \"x\"; NetworkAccess 1; }");
    let t = decode(&b).unwrap();
    let raw = |code: u8| t.tlvs.iter().find(|x| x.code == code).unwrap().raw;
    let expect = encode::hmac_md5(KEY, [raw(3), raw(6), raw(18)].into_iter());
    assert_eq!(raw(7)[2..], expect);
}

#[test]
fn hmac_md5_matches_rfc2202_vectors() {
    let d = encode::hmac_md5(
        b"Jefe",
        [&b"what do ya want "[..], b"for nothing?"].into_iter(),
    );
    assert_eq!(snmp::hex(&d), "0x750c783e6ab0b503eaa86e310a5db738");
    let d = encode::hmac_md5(
        &[0xaa; 80],
        [&b"Test Using Larger Than Block-Size Key - Hash Key First"[..]].into_iter(),
    );
    assert_eq!(snmp::hex(&d), "0x6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

const RICH: &str = r#"
Main
{
    NetworkAccess 1;
    DownstreamFrequency 555000000;
    UpstreamChannelId 3;
    MaxCPE 4;
    ClassOfService { ClassID 1; MaxRateDown 10000000; MaxRateUp 1000000; PriorityUp 2; GuaranteedUp 0; MaxBurstUp 1522; PrivacyEnable 1; }
    BaselinePrivacy { AuthTimeout 10; ReAuthTimeout 10; AuthGraceTime 600; OperTimeout 1; ReKeyTimeout 1; TEKGraceTime 600; AuthRejectTimeout 60; SAMapWaitTimeout 1; SAMapMaxRetries 4; }
    UsServiceFlow { UsServiceFlowRef 1; QosParamSetType 7; TrafficPriority 1; MaxRateSustained 20000000; MaxTrafficBurst 1522; SchedulingType 2; RequestOrTxPolicy 0x00000000; ServiceClassName "up"; }
    DsServiceFlow { DsServiceFlowRef 2; QosParamSetType 7; MaxRateSustained 100000000; MaxDsLatency 0; }
    UsPacketClass { ClassifierRef 1; ServiceFlowRef 1; RulePriority 100; ActivationState 1;
        IpPacketClassifier { IpProto 17; IpSrcAddr 10.0.0.0; IpSrcMask 255.0.0.0; DstPortStart 5060; DstPortEnd 5061; IpTos 0x00fc10; }
        LLCPacketClassifier { DstMacAddress 00:00:de:ad:be:ef/ff:ff:ff:ff:ff:ff; SrcMacAddress 00:a0:a0:a0:a0:a0; EtherType 0x030800; }
        IEEE802Classifier { UserPriority 0,7; VlanID 100; }
        PcIPv6PacketClassification { PcIPv6SourceAddress 2001:db8::1; PcIPv6SourcePrefixLength 64; PcIPv6FlowLabel 0x00000001; }
    }
    PHS { PHSClassifierRef 1; PHSServiceFlowRef 1; PHSField 0x0102; PHSIndex 1; PHSMask 0x03; PHSSize 2; PHSVerify 1; }
    SnmpWriteControl docsDevNmAccessTable 0;
    SnmpMibObject sysContact.0 String "noc@example.net";
    SnmpMibObject docsDevNmAccessIp.1 IPAddress 10.1.1.1;
    SnmpMibObject docsDevFilterIpDefault.0 Integer -1;
    SnmpMibObject enterprises.19.1 Gauge32 250000000;
    SnmpMibObject enterprises.19.2 Counter32 5;
    SnmpMibObject enterprises.19.3 TimeTicks 100;
    SnmpMibObject enterprises.19.4 Counter64 18446744073709551615;
    SnmpMibObject enterprises.19.5 HexString 0x98ffc0;
    SnmpMibObject enterprises.19.6 ObjectID .1.3.6.1.4.1.4491;
    SnmpV3Kickstart { SnmpV3SecurityName "docsisManager"; SnmpV3MgrPublicNumber 0x0102; }
    SnmpV3TrapReceiver { SnmpV3TrapRxIP 10.0.1.253; SnmpV3TrapRxPort 162; SnmpV3TrapRxType 2; SnmpV3TrapRxFilterOID .1.3.6.1; }
    SNMPv1v2cCoexistenceConfig { SNMPv1v2cCommunityName "public"; SNMPv1v2cAccessViewType 1; SNMPv1v2cAccessViewName "all"; }
    SNMPv3AccessViewConfiguration { SNMPv3AccessViewName "all"; SNMPv3AccessViewSubtree .1.3.6.1; SNMPv3AccessViewType 1; }
    VendorSpecific { VendorIdentifier 0x0010a4; GenericTLV TlvCode 128 TlvLength 2 TlvValue 0x0a0b; }
    GlobalPrivacyEnable 1;
    MaxClassifiers 20;
    SubMgmtControl 0x030000;
    SubMgmtFilters 1,2,3,4;
    SubMgmtControl6 1;
    UpstreamDropClassifierGroupID 1,2;
    SwUpgradeFilename "cm-fw-1.2.bin";
    SwUpgradeServer 10.1.1.2;
    SwUpgradeServer6 2001:db8::2;
    CpeMacAddress 00:11:22:33:44:55;
    eRouter { InitializationMode 3; TR69ManagementServer { EnableCWMP 1; URL "http://acs.example.net"; } SnmpMibObject sysName.0 String "er"; }
    GenericTLV TlvCode 16 TlvLength 4 TlvValue 0xc0a8fe43;
}
"#;

#[test]
fn rich_config_decodes_back_to_identical_bytes() {
    let b = cm(RICH);
    let r = verify(&b, Some(KEY)).unwrap();
    assert_eq!((r.cm_mic, r.cmts_mic), (Some(true), Some(true)));
    round_trip(&b);
    let text = decode(&b).unwrap().to_text();
    assert!(
        text.contains("SnmpMibObject docsDevNmAccessIp.1 IPAddress 10.1.1.1;"),
        "{text}"
    );
    assert!(text.contains("MaxRateSustained 20000000;"), "{text}");
}

#[test]
fn long_values_are_split_and_joined_again() {
    let long = "a".repeat(400);
    let b = cm(&format!(
        "Main {{ SnmpMibObject sysDescr.0 String \"{long}\"; MfgCVCData 0x{}; }}",
        "ab".repeat(600)
    ));
    let d = decode(&b).unwrap();
    let n11 = d.tlvs.iter().filter(|t| t.code == 11).count();
    let n32: Vec<usize> = d
        .tlvs
        .iter()
        .filter(|t| t.code == 32)
        .map(|t| t.value.len())
        .collect();
    assert_eq!(n11, 2);
    assert_eq!(n32, vec![254, 254, 92]);
    let text = d.to_text();
    assert_eq!(text.matches("SnmpMibObject").count(), 1, "{text}");
    round_trip(&b);
}

#[test]
fn cvc_files_are_read_through_the_file_source() {
    struct Der;
    impl FileSource for Der {
        fn read(&self, path: &str) -> Result<Vec<u8>, String> {
            (path == "mfg.der")
                .then(|| vec![0x30; 600])
                .ok_or("missing".into())
        }
    }
    let b = compile("Main { ManufacturerCVC \"mfg.der\"; }", &opts(), &Der).unwrap();
    let d = decode(&b).unwrap();
    let cvc: Vec<u8> = d
        .tlvs
        .iter()
        .filter(|t| t.code == 32)
        .flat_map(|t| t.value.to_vec())
        .collect();
    assert_eq!(cvc, vec![0x30; 600]);
    let e = compile("Main {\n ManufacturerCVC \"x.der\"; }", &opts(), &Der).unwrap_err();
    assert!(matches!(e, DocsisError::File { line: 2, .. }), "{e}");
}

#[test]
fn mta_files_get_delimiters_and_a_checked_hash() {
    let src = "Main { MtaConfigDelimiter 1; SnmpMibObject pktcMtaDevEnabled.0 Integer 1; MtaConfigDelimiter 255; }";
    let b = compile(src, &opts(), &NoFiles).unwrap();
    assert_eq!(&b[..3], &[254, 1, 1]);
    assert_eq!(&b[b.len() - 3..], &[254, 1, 255]);
    assert_eq!(verify(&b, None).unwrap().mta_hash, Some(true));
    // The same without delimiters in the text, with --mta.
    let b2 = compile(
        "Main { SnmpMibObject pktcMtaDevEnabled.0 Integer 1; }",
        &Options {
            key: KEY,
            mta: true,
            mta_hash: true,
        },
        &NoFiles,
    )
    .unwrap();
    assert_eq!(b, b2);
    round_trip(&b);
    let mut tampered = b;
    tampered[8] ^= 1;
    assert_eq!(verify(&tampered, None).unwrap().mta_hash, Some(false));
    // A long SNMP object in an MTA file is TLV 64 with a two-byte length.
    let long = format!(
        "Main {{ SnmpMibObject sysDescr.0 String \"{}\"; }}",
        "x".repeat(300)
    );
    let b3 = compile(
        &long,
        &Options {
            key: KEY,
            mta: true,
            mta_hash: false,
        },
        &NoFiles,
    )
    .unwrap();
    assert_eq!(b3[3], 64);
    round_trip(&b3);
}

#[test]
fn bad_text_is_reported_with_line_and_setting() {
    for (src, line, needle) in [
        ("Main {\n MaxCPE 300;\n}", 2, "MaxCPE"),
        ("Main {\n\n NoSuchSetting 1;\n}", 3, "unknown setting"),
        ("Main {\n DownstreamFrequency 1;\n}", 2, "out of range"),
        (
            "Main {\n SnmpMibObject docsDevNoSuch.0 Integer 1;\n}",
            2,
            "unknown OID name",
        ),
        (
            "Main {\n SnmpMibObject sysName.0 Bogus 1;\n}",
            2,
            "unknown SNMP type",
        ),
        (
            "Main {\n MtaConfigDelimiter 2;\n}",
            2,
            "cannot start with TLV 254",
        ),
        (
            "Main {\n UsServiceFlow { MaxRateSustained x; }\n}",
            2,
            "not a number",
        ),
        (
            "Main {\n VendorSpecific { GenericTLV TlvCode 1 TlvLength 3 TlvValue 0x01; }\n}",
            2,
            "TlvLength",
        ),
    ] {
        let e = compile(src, &opts(), &NoFiles).unwrap_err();
        assert_eq!(e.line(), Some(line), "{src}: {e}");
        assert!(e.to_string().contains(needle), "{src}: {e}");
    }
    let big = format!(
        "Main {{ VendorSpecific {{ {} }} }}",
        "VendorIdentifier 0x0010a4; ".repeat(60)
    );
    assert!(
        compile(&big, &opts(), &NoFiles)
            .unwrap_err()
            .to_string()
            .contains("at most 255")
    );
}

#[test]
fn malformed_binaries_report_byte_offsets() {
    for (bytes, offset) in [
        (&[3u8, 5, 1][..], 0),
        (&[3, 1, 1, 24][..], 3),
        (&[3, 1, 1, 255, 0, 7][..], 5),
        (&[3, 1, 1][..], 3),
    ] {
        match decode(bytes) {
            Err(DocsisError::Decode { offset: o, .. }) => assert_eq!(o, offset, "{bytes:?}"),
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

#[test]
fn foreign_encodings_fall_back_to_generic_tlvs_and_still_round_trip() {
    // A 2-byte MaxCPE, a non-minimal BER integer and an unknown type 99.
    let mut body = vec![18, 2, 0, 4];
    body.extend_from_slice(&[11, 14, 0x30, 12, 6, 8, 0x2b, 6, 1, 2, 1, 1, 5, 0, 2, 0]);
    body.truncate(body.len() - 2);
    body.extend_from_slice(&[2, 2, 0, 1]);
    body[5] = (body.len() - 6) as u8;
    body[7] = (body.len() - 8) as u8;
    body.extend_from_slice(&[99, 1, 7]);
    let file = encode::seal_cm(body, KEY);
    let text = decode(&file).unwrap().to_text();
    assert_eq!(text.matches("GenericTLV").count(), 3, "{text}");
    round_trip(&file);
}

mod prop {
    use proptest::prelude::*;

    use super::*;

    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u8..=1).prop_map(|v| format!("NetworkAccess {v};")),
            (1u8..=254).prop_map(|v| format!("MaxCPE {v};")),
            any::<u32>().prop_map(|v| format!("TftpTimestamp {v};")),
            any::<[u8; 4]>().prop_map(|o| format!("SwUpgradeServer {}.{}.{}.{};", o[0], o[1], o[2], o[3])),
            "[a-zA-Z0-9 ._-]{1,200}".prop_map(|s| format!("SwUpgradeFilename \"{s}\";")),
            proptest::collection::vec(any::<u8>(), 0..300)
                .prop_map(|b| format!("SnmpMibObject enterprises.1.2 HexString {};", snmp::hex(&b))),
            any::<i32>().prop_map(|v| format!("SnmpMibObject sysUpTime.0 Integer {v};")),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(c, b)| format!("GenericTLV TlvCode {} TlvValue {};", 100 + c % 100, snmp::hex(&b))),
            (1u16.., 0u32..1_000_000_000).prop_map(|(r, m)| format!(
                "UsServiceFlow {{ UsServiceFlowRef {r}; QosParamSetType 7; MaxRateSustained {m}; }}"
            )),
            (1u8.., any::<u16>(), any::<[u8; 4]>()).prop_map(|(r, p, ip)| format!(
                "DsPacketClass {{ ClassifierRef {r}; IpPacketClassifier {{ DstPortStart {p}; IpDstAddr {}.{}.{}.{}; }} }}",
                ip[0], ip[1], ip[2], ip[3]
            )),
        ]
    }

    proptest! {
        #[test]
        fn generated_configs_round_trip(items in proptest::collection::vec(leaf(), 1..30)) {
            let src = format!("Main {{\n{}\n}}", items.join("\n"));
            let b = compile(&src, &opts(), &NoFiles).unwrap();
            let text = decode(&b).unwrap().to_text();
            let again = compile(&text, &opts(), &NoFiles).unwrap();
            prop_assert_eq!(again, b);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(d) = decode(&bytes) {
                let _ = d.to_text();
                let _ = d.to_json();
            }
            let _ = verify(&bytes, Some(KEY));
        }
    }
}

/// Certificates named in the sample configs, read from their folder.
struct DataDir<'p>(&'p std::path::Path);

impl FileSource for DataDir<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

#[test]
fn every_sample_config_compiles_verifies_and_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/docsis");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let o = Options {
            key: KEY,
            mta: name.starts_with("mta-"),
            mta_hash: true,
        };
        let b = compile(&text, &o, &DataDir(&dir)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = verify(&b, Some(KEY)).unwrap();
        if o.mta {
            assert_eq!(r.mta_hash, Some(true), "{name}");
        } else {
            assert_eq!((r.cm_mic, r.cmts_mic), (Some(true), Some(true)), "{name}");
            assert_eq!(
                r.extended_cmts_mic,
                name.contains("extended-cmts-mic").then_some(true),
                "{name}"
            );
        }
        round_trip(&b);
        n += 1;
    }
    assert!(n >= 30, "only {n} sample configs");
}

/// A file with an Extended CMTS MIC (TLV 43.6) covering TLVs 3, 11, 18
/// and 43, plus `extra` inside its block.
fn extended(bitmap: &str, extra: &str) -> String {
    format!(
        "Main {{\n NetworkAccess 1;\n VendorSpecific {{\n  VendorIdentifier 0xffffff;\n  ExtendedCMTSMICConfiguration {{\n   ExtendedCMTSMICHMACDigestType 1;\n   ExtendedCMTSMICHMACBitmap {bitmap};\n{extra}  }}\n }}\n SnmpMibObject sysName.0 String \"emic\";\n MaxCPE 3;\n}}\n"
    )
}

#[test]
fn explicit_extended_cmts_mic_is_computed_over_the_bitmap_in_file_order() {
    // Bits 3, 11, 18 and 43, counted from the first byte's top bit.
    let b = cm(&extended(
        "0x101020000010",
        "   ExtendedCMTSMICHMACDigest 0x00000000000000000000000000000000;\n",
    ));
    let t = decode(&b).unwrap();
    let raw = |code: u8| t.tlvs.iter().find(|x| x.code == code).unwrap().raw;
    // The digest sits at the end of TLV 43: zeroed for its own calculation.
    let t43 = raw(43);
    let mut zeroed = t43.to_vec();
    let n = zeroed.len();
    zeroed[n - 16..].fill(0);
    let expect = encode::hmac_md5(KEY, [raw(3), &zeroed[..], raw(11), raw(18)].into_iter());
    assert_eq!(t43[n - 16..], expect, "the explicit digest");
    // TLV 7 stays the pre-3.0 CMTS MIC, over the digest as written.
    let pre = encode::hmac_md5(KEY, [raw(3), t43, raw(6), raw(18)].into_iter());
    assert_eq!(raw(7)[2..], pre);
    let r = verify(&b, Some(KEY)).unwrap();
    assert_eq!(
        (r.cm_mic, r.cmts_mic, r.extended_cmts_mic),
        (Some(true), Some(true), Some(true))
    );
    let r = verify(&b, Some(b"wrong")).unwrap();
    assert_eq!(
        (r.cmts_mic, r.extended_cmts_mic),
        (Some(false), Some(false))
    );
    // Decoded text names the settings and compiles back to the same bytes.
    let text = decode(&b).unwrap().to_text();
    assert!(
        text.contains("ExtendedCMTSMICHMACDigestType 1;")
            && text.contains("ExtendedCMTSMICHMACBitmap 0x101020000010;"),
        "{text}"
    );
    round_trip(&b);
    // A tampered TLV the bitmap covers breaks only the extended digest's
    // check (TLV 11 is outside the pre-3.0 list); the CM MIC is resealed.
    let mut body = b[..t.tlvs.iter().find(|x| x.code == 6).unwrap().offset].to_vec();
    let at = body.windows(4).position(|w| w == b"emic").unwrap();
    body[at] = b'E';
    let mut resealed = encode::seal_cm(body, KEY);
    // seal_cm recomputes the digest; put the old one back.
    let old = &t43[n - 16..];
    let pos = resealed
        .windows(16)
        .position(|w| w == expect)
        .unwrap_or(usize::MAX);
    assert_eq!(pos, usize::MAX, "the digest was recomputed");
    let d43 = decode(&resealed).unwrap();
    let off = d43.tlvs.iter().find(|x| x.code == 43).unwrap().offset + t43.len() - 16;
    resealed[off..off + 16].copy_from_slice(old);
    let r = verify(&resealed, Some(KEY)).unwrap();
    assert_eq!(r.extended_cmts_mic, Some(false));
}

#[test]
fn implicit_extended_cmts_mic_is_tlv_7() {
    // Bits 3 and 6 (the CM MIC), 11, 18, 43: no explicit digest, so TLV 7
    // carries the extended digest, over the TLVs in file order.
    let b = cm(&extended("0x121020000010", ""));
    let t = decode(&b).unwrap();
    let raw = |code: u8| t.tlvs.iter().find(|x| x.code == code).unwrap().raw;
    let expect = encode::hmac_md5(KEY, [raw(3), raw(43), raw(11), raw(18), raw(6)].into_iter());
    assert_eq!(raw(7)[2..], expect);
    let r = verify(&b, Some(KEY)).unwrap();
    assert_eq!(
        (r.cm_mic, r.cmts_mic, r.extended_cmts_mic),
        (Some(true), Some(true), Some(true))
    );
    round_trip(&b);
}

#[test]
fn unusable_extended_cmts_mic_settings_are_refused_with_their_line() {
    let digest = "   ExtendedCMTSMICHMACDigest 0x00000000000000000000000000000000;\n";
    for (src, needle) in [
        (
            extended("0x10", "").replace("DigestType 1;", "DigestType 2;"),
            "HMAC type 2 is not supported",
        ),
        (extended("0x12", digest), "cannot select TLV 6"),
        (extended("0x11", ""), "cannot select TLV 0, 7 or 255"),
        (extended("0x00", ""), "selects no TLV"),
        (
            extended("0x10", "   ExtendedCMTSMICHMACDigest 0x0102;\n"),
            "holds 16 bytes",
        ),
    ] {
        let err = compile(&src, &opts(), &NoFiles).unwrap_err();
        assert_eq!(err.line(), Some(5), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("ExtendedCMTSMICConfiguration") && text.contains(needle),
            "{text}"
        );
    }
}

#[test]
fn cvcs_from_der_files_are_split_over_several_tlvs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/docsis");
    let text = std::fs::read_to_string(dir.join("39-cvc-der-files.txt")).unwrap();
    let b = compile(&text, &opts(), &DataDir(&dir)).unwrap();
    let d = decode(&b).unwrap();
    for (code, file) in [(32, "cvc-mfg.der"), (33, "cvc-cosigner.der")] {
        let der = std::fs::read(dir.join(file)).unwrap();
        assert!(der.len() > 254, "{file} is short");
        let parts: Vec<&Tlv<'_>> = d.tlvs.iter().filter(|t| t.code == code).collect();
        assert_eq!(parts.len(), der.len().div_ceil(254), "TLV {code}");
        assert!(parts.iter().all(|t| t.value.len() <= 254));
        let joined: Vec<u8> = parts.iter().flat_map(|t| t.value.to_vec()).collect();
        assert_eq!(joined, der, "TLV {code}");
    }
}

#[test]
fn telephone_settings_block_carries_generic_sub_settings() {
    // TLV 15 (DOCSIS 1.0 telephony return, deprecated; pydocsis does not
    // know it, so it is not among the sample files).
    let b = cm(
        "Main { NetworkAccess 1; TelephoneSettingsOption { GenericTLV TlvCode 1 TlvLength 4 TlvValue 0x49535000; GenericTLV TlvCode 5 TlvLength 1 TlvValue 0x03; } }",
    );
    assert_eq!(&b[3..14], &[15, 9, 1, 4, b'I', b'S', b'P', 0, 5, 1, 3]);
    let text = decode(&b).unwrap().to_text();
    assert!(text.contains("TelephoneSettingsOption"), "{text}");
    round_trip(&b);
}
