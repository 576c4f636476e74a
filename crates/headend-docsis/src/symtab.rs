//! The table of DOCSIS / PacketCable configuration settings: one row per
//! setting with its name in the text format, its TLV type code, how its value
//! is encoded and its limits, nested the way the TLVs nest.
//!
//! Names and codes follow the symbol table of the open-source `docsis`
//! compiler (its `src/docsis_symtable.h` as of its 0.9.x series, which cites
//! MULPIv3.0-I24, SECv3.0-I15, L2VPN-I13 and eRouter-I12 for each row),
//! extended with the DOCSIS 3.0 top-level TLVs 53, 54, 60 and 62 under the
//! names its eRouter rows and later releases use. Only the facts (names,
//! codes, limits) are taken; the table is written anew.

use self::Kind::*;

/// How a setting's value is written in text and encoded in the TLV value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unsigned 8-bit integer.
    Uchar,
    /// Unsigned 16-bit integer, network order.
    Ushort,
    /// Unsigned 24-bit integer, network order.
    Uint24,
    /// Unsigned 32-bit integer, network order.
    Uint,
    /// IPv4 address (4 bytes).
    Ip,
    /// IPv6 address (16 bytes).
    Ip6,
    /// IPv4 or IPv6 address (4 or 16 bytes).
    IpOrIp6,
    /// MAC address (6 bytes).
    Ether,
    /// MAC address and mask `aa:..:ff/ff:..:00` (12 bytes) or a MAC alone.
    EtherMask,
    /// Bytes written as `0x...`; `min`/`max` bound the length (0 = no bound).
    Hex,
    /// Text in double quotes, stored without a terminator.
    Str,
    /// Text in double quotes, stored with a terminating NUL.
    StrZero,
    /// An object identifier, stored as BER contents (no tag or length).
    Oid,
    /// Two unsigned 8-bit integers, `a,b`.
    DualUchar,
    /// A list of unsigned 8-bit integers, `a,b,c`.
    UcharList,
    /// A list of unsigned 16-bit integers, `a,b,c`.
    UshortList,
    /// An SNMP varbind: `OID TYPE VALUE`, BER encoded (TLV 11).
    Snmp,
    /// SNMP write-access control: `OID 0|1` (TLV 10).
    SnmpWrite,
    /// A block of nested settings.
    Aggregate,
    /// A certificate: `"file.der"` read from disk or `0x...`, split over
    /// several TLVs of at most 254 bytes.
    Cvc,
    /// A setting with an empty value.
    Empty,
}

/// One setting of the table.
#[derive(Debug)]
pub struct Symbol {
    /// The name in the text format.
    pub name: &'static str,
    /// The TLV type code.
    pub code: u8,
    /// The value's encoding.
    pub kind: Kind,
    /// Lowest value (numbers) or shortest length (byte strings); 0 with `max` 0 means unchecked.
    pub min: u64,
    /// Highest value (numbers) or longest length (byte strings).
    pub max: u64,
    /// Nested settings of an aggregate.
    pub subs: &'static [Self],
}

const fn s(name: &'static str, code: u8, kind: Kind, min: u64, max: u64) -> Symbol {
    Symbol {
        name,
        code,
        kind,
        min,
        max,
        subs: &[],
    }
}

const fn agg(name: &'static str, code: u8, subs: &'static [Symbol]) -> Symbol {
    Symbol {
        name,
        code,
        kind: Aggregate,
        min: 0,
        max: 0,
        subs,
    }
}

const U32: u64 = 0xFFFF_FFFF;

const COS: &[Symbol] = &[
    s("ClassID", 1, Uchar, 1, 16),
    s("MaxRateDown", 2, Uint, 0, U32),
    s("MaxRateUp", 3, Uint, 0, U32),
    s("PriorityUp", 4, Uchar, 0, 7),
    s("GuaranteedUp", 5, Uint, 0, U32),
    s("MaxBurstUp", 6, Ushort, 0, 65535),
    s("PrivacyEnable", 7, Uchar, 0, 1),
];

const MODEM_CAPS: &[Symbol] = &[
    s("ConcatenationSupport", 1, Uchar, 0, 1),
    s("ModemDocsisVersion", 2, Uchar, 0, 3),
    s("FragmentationSupport", 3, Uchar, 0, 1),
    s("PHSSupport", 4, Uchar, 0, 1),
    s("IGMPSupport", 5, Uchar, 0, 1),
    s("BaselinePrivacySupport", 6, Uchar, 0, 1),
    s("DownstreamSAIDSupport", 7, Uchar, 0, 255),
    s("UpstreamSIDSupport", 8, Uchar, 0, 255),
    s("DCCSupport", 12, Uchar, 0, 1),
    s("IPv6Support", 39, Uchar, 0, 1),
];

const BPI: &[Symbol] = &[
    s("AuthTimeout", 1, Uint, 1, 30),
    s("ReAuthTimeout", 2, Uint, 1, 30),
    s("AuthGraceTime", 3, Uint, 1, 6_047_999),
    s("OperTimeout", 4, Uint, 1, 10),
    s("ReKeyTimeout", 5, Uint, 1, 10),
    s("TEKGraceTime", 6, Uint, 1, 302_399),
    s("AuthRejectTimeout", 7, Uint, 1, 600),
    s("SAMapWaitTimeout", 8, Uint, 1, 10),
    s("SAMapMaxRetries", 9, Uint, 0, 10),
];

const IP_CLASS: &[Symbol] = &[
    s("IpTos", 1, Hex, 3, 3),
    s("IpProto", 2, Ushort, 0, 257),
    s("IpSrcAddr", 3, Ip, 0, 0),
    s("IpSrcMask", 4, Ip, 0, 0),
    s("IpDstAddr", 5, Ip, 0, 0),
    s("IpDstMask", 6, Ip, 0, 0),
    s("SrcPortStart", 7, Ushort, 0, 65535),
    s("SrcPortEnd", 8, Ushort, 0, 65535),
    s("DstPortStart", 9, Ushort, 0, 65535),
    s("DstPortEnd", 10, Ushort, 0, 65535),
];

const LLC_CLASS: &[Symbol] = &[
    s("DstMacAddress", 1, EtherMask, 0, 0),
    s("SrcMacAddress", 2, Ether, 0, 0),
    s("EtherType", 3, Hex, 3, 3),
];

const IEEE802_CLASS: &[Symbol] = &[
    s("UserPriority", 1, DualUchar, 0, 7),
    s("VlanID", 2, Ushort, 0, 4095),
];

const IPV6_CLASS: &[Symbol] = &[
    s("PcIPv6TrafficClassRangeAndMask", 1, Hex, 3, 3),
    s("PcIPv6FlowLabel", 2, Hex, 4, 4),
    s("PcIPv6NextHeaderType", 3, Ushort, 0, 257),
    s("PcIPv6SourceAddress", 4, Ip6, 0, 0),
    s("PcIPv6SourcePrefixLength", 5, Uchar, 0, 128),
    s("PcIPv6DestAddress", 6, Ip6, 0, 0),
    s("PcIPv6DestPrefixLength", 7, Uchar, 0, 128),
];

const STAG_CTAG: &[Symbol] = &[
    s("STPID", 1, Hex, 2, 2),
    s("SVID", 2, Hex, 2, 2),
    s("SPCP", 3, Hex, 1, 1),
    s("SDEI", 4, Hex, 1, 1),
    s("CTPID", 5, Hex, 2, 2),
    s("CVID", 6, Hex, 2, 2),
    s("CPCP", 7, Hex, 1, 1),
    s("CCFI", 8, Hex, 1, 1),
    s("STCI", 9, Hex, 2, 2),
    s("CTCI", 10, Hex, 2, 2),
];

const ICMP_CLASS: &[Symbol] = &[
    s("ICMPv4ICMPv6TypeStart", 1, Uchar, 0, 255),
    s("ICMPv4ICMPv6TypeEnd", 2, Uchar, 0, 255),
];

const MPLS_CLASS: &[Symbol] = &[s("MPLSTCbits", 1, Hex, 1, 1), s("MPLSLabel", 2, Hex, 3, 3)];

const L2VPN: &[Symbol] = &[
    s("VPNIdentifier", 1, Hex, 4, 255),
    agg(
        "NSIEncapsulation",
        2,
        &[
            s("NSIEncapsulationSingleQTag", 2, Ushort, 1, 4095),
            s("NSIEncapsulationDualQTag", 3, Hex, 4, 4),
        ],
    ),
    s("IngressUserPriority", 8, Uchar, 0, 7),
    s("UserPriorityRange", 9, DualUchar, 0, 7),
    s("L2VPNMode", 13, Uchar, 0, 1),
];

/// TLV 43.6, the Extended CMTS MIC (MULPIv3.0 C.1.1.18.1.6, D.2.1): the
/// HMAC type (1: HMAC-MD5, the one the compiler computes), the bitmap of
/// the top-level TLV types the digest covers (bit N, counted from the most
/// significant bit of the first byte, selects type N), and the explicit
/// digest, which the compiler computes (the value written is a placeholder).
const EXT_CMTS_MIC: &[Symbol] = &[
    s("ExtendedCMTSMICHMACDigestType", 1, Uchar, 1, 255),
    s("ExtendedCMTSMICHMACBitmap", 2, Hex, 1, 32),
    s("ExtendedCMTSMICHMACDigest", 3, Hex, 0, 0),
];

/// Vendor-specific settings (TLV 43 and its nested uses). Sub-TLVs not in
/// this list are written with `GenericTLV` inside the block.
const VENDOR: &[Symbol] = &[
    s("CMLoadBalancingPolicyID", 1, Uint, 0, U32),
    s("CMLoadBalancingPriority", 2, Uint, 0, U32),
    s("CMLoadBalancingGroupID", 3, Uint, 0, U32),
    s("CMRangingClassIDExtension", 4, Ushort, 0, 65535),
    agg("L2VPNEncoding", 5, L2VPN),
    agg("ExtendedCMTSMICConfiguration", 6, EXT_CMTS_MIC),
    s("VendorIdentifier", 8, Hex, 3, 3),
];

const CLASSIFIER: &[Symbol] = &[
    s("ClassifierRef", 1, Uchar, 1, 255),
    s("ClassifierId", 2, Ushort, 1, 65535),
    s("ServiceFlowRef", 3, Ushort, 1, 65535),
    s("ServiceFlowId", 4, Uint, 1, U32),
    s("RulePriority", 5, Uchar, 0, 255),
    s("ActivationState", 6, Uchar, 0, 1),
    s("DscAction", 7, Uchar, 0, 2),
    agg("IpPacketClassifier", 9, IP_CLASS),
    agg("LLCPacketClassifier", 10, LLC_CLASS),
    agg("IEEE802Classifier", 11, IEEE802_CLASS),
    agg("PcIPv6PacketClassification", 12, IPV6_CLASS),
    s("PcCMIMEncoding", 13, Hex, 0, 0),
    agg("STagCTagFrameClassification", 14, STAG_CTAG),
    agg("ICMPv4ICMPv6PacketClassification", 16, ICMP_CLASS),
    agg("MPLSClassificationEncoding", 17, MPLS_CLASS),
    agg("VendorSpecific", 43, VENDOR),
];

const US_FLOW: &[Symbol] = &[
    s("UsServiceFlowRef", 1, Ushort, 1, 65535),
    s("UsServiceFlowId", 2, Uint, 1, U32),
    s("ServiceClassName", 4, StrZero, 2, 16),
    s("QosParamSetType", 6, Uchar, 0, 255),
    s("TrafficPriority", 7, Uchar, 0, 7),
    s("MaxRateSustained", 8, Uint, 0, U32),
    s("MaxTrafficBurst", 9, Uint, 0, U32),
    s("MinReservedRate", 10, Uint, 0, U32),
    s("MinResPacketSize", 11, Ushort, 0, 65535),
    s("ActQosParamsTimeout", 12, Ushort, 0, 65535),
    s("AdmQosParamsTimeout", 13, Ushort, 0, 65535),
    s("MaxConcatenatedBurst", 14, Ushort, 0, 65535),
    s("SchedulingType", 15, Uchar, 0, 6),
    s("RequestOrTxPolicy", 16, Hex, 4, 4),
    s("NominalPollInterval", 17, Uint, 0, U32),
    s("ToleratedPollJitter", 18, Uint, 0, U32),
    s("UnsolicitedGrantSize", 19, Ushort, 0, 65535),
    s("NominalGrantInterval", 20, Uint, 0, U32),
    s("ToleratedGrantJitter", 21, Uint, 0, U32),
    s("GrantsPerInterval", 22, Uchar, 0, 127),
    s("IpTosOverwrite", 23, Hex, 2, 2),
    s("UpstreamPeakTrafficRate", 27, Uint, 0, U32),
    s("ServiceFlowRequiredAttributeMask", 31, Hex, 4, 4),
    s("ServiceFlowForbiddenAttributeMask", 32, Hex, 4, 4),
    s("ApplicationIdentifier", 34, Uint, 0, U32),
    s("DataRateUnitSetting", 41, Uchar, 0, 3),
    agg("VendorSpecific", 43, VENDOR),
];

const DS_FLOW: &[Symbol] = &[
    s("DsServiceFlowRef", 1, Ushort, 1, 65535),
    s("DsServiceFlowId", 2, Uint, 1, U32),
    s("ServiceClassName", 4, StrZero, 2, 16),
    s("QosParamSetType", 6, Uchar, 0, 255),
    s("TrafficPriority", 7, Uchar, 0, 7),
    s("MaxRateSustained", 8, Uint, 0, U32),
    s("MaxTrafficBurst", 9, Uint, 0, U32),
    s("MinReservedRate", 10, Uint, 0, U32),
    s("MinResPacketSize", 11, Ushort, 0, 65535),
    s("ActQosParamsTimeout", 12, Ushort, 0, 65535),
    s("AdmQosParamsTimeout", 13, Ushort, 0, 65535),
    s("MaxDsLatency", 14, Uint, 0, U32),
    s("DsResequencing", 17, Uchar, 0, 1),
    s("IpTosOverwrite", 23, Hex, 2, 2),
    s("DownstreamPeakTrafficRate", 27, Uint, 0, U32),
    s("ServiceFlowRequiredAttributeMask", 31, Hex, 4, 4),
    s("ServiceFlowForbiddenAttributeMask", 32, Hex, 4, 4),
    s("ApplicationIdentifier", 34, Uint, 0, U32),
    s("DataRateUnitSetting", 41, Uchar, 0, 3),
    agg("VendorSpecific", 43, VENDOR),
];

const PHS: &[Symbol] = &[
    s("PHSClassifierRef", 1, Uchar, 1, 255),
    s("PHSClassifierId", 2, Ushort, 1, 65535),
    s("PHSServiceFlowRef", 3, Ushort, 1, 65535),
    s("PHSServiceFlowId", 4, Uint, 1, U32),
    s("PHSField", 7, Hex, 1, 255),
    s("PHSIndex", 8, Uchar, 1, 255),
    s("PHSMask", 9, Hex, 1, 255),
    s("PHSSize", 10, Uchar, 1, 255),
    s("PHSVerify", 11, Uchar, 0, 1),
    agg("VendorSpecific", 43, VENDOR),
];

const KICKSTART: &[Symbol] = &[
    s("SnmpV3SecurityName", 1, Str, 1, 16),
    s("SnmpV3MgrPublicNumber", 2, Hex, 1, 255),
];

const TRAP_RX: &[Symbol] = &[
    s("SnmpV3TrapRxIP", 1, Ip, 0, 0),
    s("SnmpV3TrapRxPort", 2, Ushort, 0, 65535),
    s("SnmpV3TrapRxType", 3, Ushort, 1, 5),
    s("SnmpV3TrapRxTimeout", 4, Ushort, 0, 65535),
    s("SnmpV3TrapRxRetries", 5, Ushort, 0, 65535),
    s("SnmpV3TrapRxFilterOID", 6, Oid, 0, 0),
    s("SnmpV3TrapRxSecurityName", 7, Str, 1, 16),
    s("SnmpV3TrapRxIP6", 8, Ip6, 0, 0),
];

const COEXISTENCE: &[Symbol] = &[
    s("SNMPv1v2cCommunityName", 1, Str, 1, 32),
    agg(
        "SNMPv1v2cTransportAddressAccess",
        2,
        &[
            s("SNMPv1v2cTransportAddress", 1, Hex, 6, 18),
            s("SNMPv1v2cTransportAddressMask", 2, Hex, 6, 18),
        ],
    ),
    s("SNMPv1v2cAccessViewType", 3, Uchar, 1, 2),
    s("SNMPv1v2cAccessViewName", 4, Str, 1, 32),
];

const ACCESS_VIEW: &[Symbol] = &[
    s("SNMPv3AccessViewName", 1, Str, 1, 32),
    s("SNMPv3AccessViewSubtree", 2, Oid, 0, 0),
    s("SNMPv3AccessViewMask", 3, Hex, 0, 16),
    s("SNMPv3AccessViewType", 4, Uchar, 1, 2),
];

const DS_CHANNEL_LIST: &[Symbol] = &[
    agg(
        "SingleDsChannel",
        1,
        &[
            s("SingleDsTimeout", 1, Ushort, 0, 65535),
            s("SingleDsFrequency", 2, Uint, 0, U32),
        ],
    ),
    agg(
        "DsFreqRange",
        2,
        &[
            s("DsFreqRangeTimeout", 1, Ushort, 0, 65535),
            s("DsFreqRangeStart", 2, Uint, 0, U32),
            s("DsFreqRangeEnd", 3, Uint, 0, U32),
            s("DsFreqRangeStepSize", 4, Uint, 0, U32),
        ],
    ),
    s("DefaultScanTimeout", 3, Ushort, 0, 65535),
];

const TR69: &[Symbol] = &[
    s("EnableCWMP", 1, Uchar, 0, 1),
    s("URL", 2, Str, 0, 0),
    s("Username", 3, Str, 0, 0),
    s("Password", 4, Str, 0, 0),
    s("ConnectionRequestUsername", 5, Str, 0, 0),
    s("ConnectionRequestPassword", 6, Str, 0, 0),
    s("ACSOverride", 7, Uchar, 0, 1),
];

const EROUTER: &[Symbol] = &[
    s("InitializationMode", 1, Uchar, 0, 3),
    agg("TR69ManagementServer", 2, TR69),
    s("InitializationModeOverride", 3, Uchar, 0, 1),
    s("RATransmissionInterval", 10, Ushort, 3, 1800),
    s("SnmpMibObject", 11, Snmp, 0, 0),
    s("TopologyModeEncoding", 42, Uchar, 1, 2),
    agg("VendorSpecific", 43, VENDOR),
    agg("SNMPv1v2cCoexistenceConfig", 53, COEXISTENCE),
    agg("SNMPv3AccessViewConfiguration", 54, ACCESS_VIEW),
];

const DROP_CLASSIFIER: &[Symbol] = &[
    s("ClassifierRef", 1, Uchar, 1, 255),
    s("ClassifierId", 2, Ushort, 1, 65535),
    s("RulePriority", 5, Uchar, 0, 255),
    agg("IpPacketClassifier", 9, IP_CLASS),
    agg("LLCPacketClassifier", 10, LLC_CLASS),
    agg("IEEE802Classifier", 11, IEEE802_CLASS),
    agg("PcIPv6PacketClassification", 12, IPV6_CLASS),
    s("PcCMIMEncoding", 13, Hex, 0, 0),
    agg("ICMPv4ICMPv6PacketClassification", 16, ICMP_CLASS),
    agg("VendorSpecific", 43, VENDOR),
];

/// The top-level settings of a cable modem (and PacketCable MTA) file.
pub static MAIN: &[Symbol] = &[
    s("DownstreamFrequency", 1, Uint, 88_000_000, 1_218_000_000),
    s("UpstreamChannelId", 2, Uchar, 0, 255),
    s("NetworkAccess", 3, Uchar, 0, 1),
    agg("ClassOfService", 4, COS),
    agg("ModemCapabilities", 5, MODEM_CAPS),
    s("SwUpgradeFilename", 9, Str, 1, 255),
    s("SnmpWriteControl", 10, SnmpWrite, 0, 0),
    s("SnmpMibObject", 11, Snmp, 0, 0),
    s("ModemIPAddress", 12, Ip, 0, 0),
    s("CpeMacAddress", 14, Ether, 0, 0),
    // DOCSIS 1.0 telephony return (deprecated): the block is named, its
    // sub-settings are written as GenericTLV.
    agg("TelephoneSettingsOption", 15, &[]),
    agg("BaselinePrivacy", 17, BPI),
    s("MaxCPE", 18, Uchar, 1, 254),
    s("TftpTimestamp", 19, Uint, 0, U32),
    s("TftpModemAddress", 20, Ip, 0, 0),
    s("SwUpgradeServer", 21, Ip, 0, 0),
    agg("UsPacketClass", 22, CLASSIFIER),
    agg("DsPacketClass", 23, CLASSIFIER),
    agg("UsServiceFlow", 24, US_FLOW),
    agg("DsServiceFlow", 25, DS_FLOW),
    agg("PHS", 26, PHS),
    s("MaxClassifiers", 28, Ushort, 0, 65535),
    s("GlobalPrivacyEnable", 29, Uchar, 0, 1),
    s("MfgCVCData", 32, Hex, 1, 0),
    s("ManufacturerCVC", 32, Cvc, 0, 0),
    s("CoSignerCVCData", 33, Hex, 1, 0),
    s("CoSignerCVC", 33, Cvc, 0, 0),
    agg("SnmpV3Kickstart", 34, KICKSTART),
    s("SubMgmtControl", 35, Hex, 3, 3),
    s("SubMgmtCpeTable", 36, Hex, 4, 0),
    s("SubMgmtFilters", 37, UshortList, 4, 4),
    agg("SnmpV3TrapReceiver", 38, TRAP_RX),
    s("DocsisTwoEnable", 39, Uchar, 0, 1),
    s("TestModes", 40, Uchar, 0, 1),
    agg("DsChannelList", 41, DS_CHANNEL_LIST),
    s("MulticastMACAddress", 42, Ether, 0, 0),
    agg("VendorSpecific", 43, VENDOR),
    agg(
        "DUTFiltering",
        45,
        &[s("DUTControl", 1, Uchar, 0, 1), s("DUTCMIM", 2, Hex, 0, 0)],
    ),
    agg("SNMPv1v2cCoexistenceConfig", 53, COEXISTENCE),
    agg("SNMPv3AccessViewConfiguration", 54, ACCESS_VIEW),
    s("SNMPCPEAccessControl", 55, Uchar, 0, 1),
    agg(
        "ChannelAssignmentConfig",
        56,
        &[
            s("CaTransmit", 1, Uchar, 0, 255),
            s("CaReceive", 2, Uint, 88_000_000, 1_218_000_000),
        ],
    ),
    s("SwUpgradeServer6", 58, Ip6, 0, 0),
    agg("UpstreamDropPacketClass", 60, DROP_CLASSIFIER),
    s("UpstreamDropClassifierGroupID", 62, UcharList, 1, 0),
    s("SubMgmtControl6", 63, Ushort, 0, 65535),
    agg(
        "CMTSStaticMulticastSessionEncodings",
        64,
        &[
            s("CMTSStaticMulticastSessionGroup", 1, IpOrIp6, 0, 0),
            s("CMTSStaticMulticastSessionSource", 2, IpOrIp6, 0, 0),
            s("CMTSStaticMulticastSessionCMIM", 3, Hex, 0, 0),
        ],
    ),
    agg("eRouter", 202, EROUTER),
    s("MtaConfigDelimiter", 254, Uchar, 1, 255),
];

/// Finds a setting by name among `table` (names are matched exactly, then
/// without regard to case).
pub fn by_name<'t>(table: &'t [Symbol], name: &str) -> Option<&'t Symbol> {
    let first = name.as_bytes().first();
    table
        .iter()
        .find(|s| {
            s.name.len() == name.len() && s.name.as_bytes().first() == first && s.name == name
        })
        .or_else(|| table.iter().find(|s| s.name.eq_ignore_ascii_case(name)))
}

/// Finds the setting that decodes TLV `code` among `table` (the first row
/// with that code: the byte form, e.g. `MfgCVCData` rather than `ManufacturerCVC`).
pub fn by_code(table: &[Symbol], code: u8) -> Option<&Symbol> {
    table.iter().find(|s| s.code == code && s.kind != Cvc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(table: &[Symbol], path: &str) {
        for (i, a) in table.iter().enumerate() {
            for b in &table[i + 1..] {
                assert!(
                    a.name != b.name,
                    "duplicate name {path}{} in one block",
                    a.name
                );
            }
            if a.kind == Aggregate {
                // (TLV 15's sub-settings are GenericTLV only.)
                assert!(
                    !a.subs.is_empty() || a.name == "TelephoneSettingsOption",
                    "{path}{} has no settings",
                    a.name
                );
                walk(a.subs, &format!("{path}{}.", a.name));
            }
        }
    }

    #[test]
    fn names_are_unique_within_each_block() {
        walk(MAIN, "");
    }

    #[test]
    fn lookups_find_rows_by_name_and_code() {
        assert_eq!(by_name(MAIN, "maxcpe").map(|s| s.code), Some(18));
        assert_eq!(by_code(MAIN, 32).map(|s| s.name), Some("MfgCVCData"));
        assert!(by_name(MAIN, "NoSuchThing").is_none());
    }
}
