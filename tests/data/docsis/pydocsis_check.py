#!/usr/bin/env python3
"""Checks compiled DOCSIS files against an independent decoder.

For every NAME.cm in DIR (with NAME.json, headend's decoded TLV tree):
  * PyPI's pydocsis decodes the file and its TLV tree is compared with
    headend's (where one side splits a TLV into sub-TLVs and the other does
    not, the value bytes are compared instead);
  * the CM MIC (MD5) and CMTS MIC (HMAC-MD5 with KEYFILE over the TLVs the
    DOCSIS spec lists, in its order) are recomputed here with hashlib/hmac,
    and the end-of-data marker and padding checked; with a TLV 43.6
    (Extended CMTS MIC, HMAC-MD5) its explicit digest, or the implicit one
    in TLV 7, is recomputed over the TLVs its bitmap selects;
  * for MTA files (NAME starts with "mta-") the SHA-1 configuration hash
    (pktcMtaDevProvConfigHash.0) is recomputed.
Prints one line per file and exits 1 if any file fails.
"""
import hashlib
import hmac
import json
import os
import sys

from pydocsis.cmConfig import CmConfig

CMTS_MIC_ORDER = [1, 2, 3, 4, 17, 43, 6, 18, 19, 20, 22, 23, 24, 25, 28, 29, 26, 35, 36, 37, 40]
# pktcMtaDevProvConfigHash.0 = 1.3.6.1.4.1.4491.2.2.1.1.2.7.0, BER encoded.
MTA_HASH_OID = bytes([0x06, 0x0E, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xA3, 0x0B, 0x02, 0x02, 0x01, 0x01, 0x02, 0x07, 0x00])


def walk(data, mta):
    """Top-level TLVs as (code, offset, value); stops at the end marker."""
    out, i = [], 0
    while i < len(data):
        code = data[i]
        if not mta and code == 255:
            if any(data[i + 1:]):
                raise ValueError("non-zero bytes after the end-of-data marker")
            if len(data) % 4 != 0:
                raise ValueError("file not padded to a multiple of 4 bytes")
            return out, True
        if not mta and code == 0:
            i += 1
            continue
        if mta and code == 64:
            n, hdr = int.from_bytes(data[i + 1:i + 3], "big"), 3
        else:
            n, hdr = data[i + 1], 2
        if i + hdr + n > len(data):
            raise ValueError(f"TLV {code} at {i} overruns the file")
        out.append((code, i, data[i + hdr:i + hdr + n], data[i:i + hdr + n]))
        i += hdr + n
    return out, False


def selected(bitmap, code):
    """True if bit `code` (from the first byte's top bit) is set."""
    return code // 8 < len(bitmap) and bitmap[code // 8] & (0x80 >> (code % 8))


def subs(value, base):
    """Sub-TLVs of `value` (which starts at `base` in the file): (code, offset, value)."""
    out, i = [], 0
    while i + 1 < len(value):
        n = value[i + 1]
        out.append((value[i], base + i + 2, value[i + 2:i + 2 + n]))
        i += 2 + n
    return out


def extended_mic(tlvs):
    """TLV 43.6 of the first TLV 43 carrying it: (HMAC type, bitmap, (offset, length) of 43.6.3 or None)."""
    for code, off, value, _ in tlvs:
        if code != 43:
            continue
        for c, voff, v in subs(value, off + 2):
            if c == 6:
                kind, bitmap, digest = None, b"", None
                for cc, o2, v2 in subs(v, voff):
                    if cc == 1 and v2:
                        kind = v2[0]
                    elif cc == 2:
                        bitmap = v2
                    elif cc == 3:
                        digest = (o2, len(v2))
                return kind, bitmap, digest
    return None


def check_cm(data, key):
    tlvs, ended = walk(data, False)
    if not ended:
        raise ValueError("no end-of-data marker")
    six = [t for t in tlvs if t[0] == 6]
    seven = [t for t in tlvs if t[0] == 7]
    if len(six) != 1 or len(seven) != 1:
        raise ValueError("expected one TLV 6 and one TLV 7")
    if hashlib.md5(data[:six[0][1]]).digest() != six[0][2]:
        raise ValueError("CM MIC (TLV 6) does not match")
    before7 = [t for t in tlvs if t[1] < seven[0][1]]
    # Extended CMTS MIC (MULPI D.2.1): HMAC-MD5 over the TLVs the bitmap
    # selects, in file order, with the explicit digest zero-filled.
    ext = extended_mic(before7)
    if ext and ext[0] == 1:
        _, bitmap, digest = ext
        copy = bytearray(data)
        if digest:
            copy[digest[0]:digest[0] + digest[1]] = bytes(digest[1])
        mac = hmac.new(key, digestmod=hashlib.md5)
        for code, off, _, whole in before7:
            if code != 7 and selected(bitmap, code):
                mac.update(bytes(copy[off:off + len(whole)]))
        if digest:
            if mac.digest() != data[digest[0]:digest[0] + digest[1]]:
                raise ValueError("explicit extended CMTS MIC (TLV 43.6.3) does not match")
        else:
            if mac.digest() != seven[0][2]:
                raise ValueError("implicit extended CMTS MIC (TLV 7) does not match")
            return
    mac = hmac.new(key, digestmod=hashlib.md5)
    for want in CMTS_MIC_ORDER:
        for code, _, _, raw in before7:
            if code == want:
                mac.update(raw)
    if mac.digest() != seven[0][2]:
        raise ValueError("CMTS MIC (TLV 7) does not match")


def check_mta(data):
    if data[:3] != b"\xfe\x01\x01" or data[-3:] != b"\xfe\x01\xff":
        raise ValueError("MTA delimiters missing")
    tlvs, _ = walk(data, True)
    hashes = [t for t in tlvs if t[0] == 11 and MTA_HASH_OID in t[2]]
    if len(hashes) != 1:
        raise ValueError("expected one configuration hash object")
    _, off, value, _ = hashes[0]
    digest = hashlib.sha1(data[:off] + b"\xfe\x01\xff").digest()
    if value[-20:] != digest:
        raise ValueError("MTA configuration hash does not match")


def theirs(tlv):
    code = int(tlv.tag)
    if tlv.subTLVs:
        return {"code": code, "subs": [theirs(s) for s in tlv.subTLVs]}
    return {"code": code, "hex": tlv.value.lower()}


def raw(node):
    """The value bytes of a node, re-serialising sub-TLVs."""
    if "hex" in node:
        return bytes.fromhex(node["hex"])
    return b"".join(bytes([s["code"], len(raw(s))]) + raw(s) for s in node["subs"])


def compare(ours, their, path):
    if len(ours) != len(their):
        raise ValueError(f"{path}: headend has {len(ours)} TLVs, pydocsis {len(their)}")
    for k, (a, b) in enumerate(zip(ours, their)):
        where = f"{path}/{a['code']}[{k}]"
        if a["code"] != b["code"]:
            raise ValueError(f"{where}: pydocsis says type {b['code']}")
        if "subs" in a and "subs" in b:
            compare(a["subs"], b["subs"], where)
        elif raw(a) != raw(b):
            raise ValueError(f"{where}: value {raw(a).hex()} but pydocsis {raw(b).hex()}")


def main():
    folder, keyfile = sys.argv[1], sys.argv[2]
    key = open(keyfile, "rb").read().rstrip(b"\r\n")
    bad = 0
    names = sorted(n[:-3] for n in os.listdir(folder) if n.endswith(".cm"))
    for name in names:
        data = open(os.path.join(folder, name + ".cm"), "rb").read()
        ours = json.load(open(os.path.join(folder, name + ".json")))
        try:
            if name.startswith("mta-"):
                check_mta(data)
            else:
                check_cm(data, key)
            cfg = CmConfig()
            cfg.tlv_string = data.hex()
            tree = [theirs(t) for t in cfg.parse()]
            if not name.startswith("mta-"):
                tree = [t for t in tree if t["code"] not in (0, 255)]
            compare(ours, tree, name)
            print(f"ok {name}")
        except Exception as e:  # one line per failing file
            bad += 1
            print(f"FAIL {name}: {e}")
    print(f"pydocsis check: {len(names) - bad} of {len(names)} files agree")
    return 1 if bad or not names else 0


if __name__ == "__main__":
    sys.exit(main())
