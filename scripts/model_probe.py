#!/usr/bin/env python3
"""Probe Trent's AWS KMS dialect for input-validation and error-answer
differences from AWS KMS, driven by botocore's KMS service model.

Usage:  python3 scripts/model_probe.py [--port 4599] [--data DIR] [--out FILE]

Needs a running Trent (dev mode, regions us-east-1 and us-west-2) and the
credentials file it writes (TRENT_DATA_DIR/credentials, [default]).
Requests are sent one at a time (no concurrency).

For every supported operation it builds a valid "base" request, then sends
one model violation at a time (missing required member, min/max length,
min/max value, enum, pattern, list size, list member, nested member, wrong
JSON type), an unknown extra member, and a few malformed bodies. Each answer
is judged against what AWS KMS would answer:
  - model constraint violation -> 400 ValidationException
      "1 validation error detected: Value '..' at '<path>' failed to satisfy
       constraint: Member must ..."
  - wrong JSON type / unparsable body -> 400 SerializationException
  - unknown member -> ignored (same answer as the base request)
Expectations AWS's documentation does not pin down are marked uncertain.
Results go to --out (every probe) and summary.txt beside it.
"""
import argparse
import base64
import configparser
import gzip
import http.client
import json
import os
import sys
import time
import uuid

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=4599)
ap.add_argument("--data", default="trent-data")
ap.add_argument("--out", default="model-probe.json")
ap.add_argument("--only", default=None, help="comma-separated operations")
ARGS = ap.parse_args()

ACCOUNT = "111122223333"
REGION = "us-east-1"
OTHER_REGION = "us-west-2"

MODEL = json.load(gzip.open(os.path.join(os.path.dirname(botocore.__file__),
                                         "data/kms/2014-11-01/service-2.json.gz")))
SHAPES = MODEL["shapes"]

cp = configparser.ConfigParser()
cp.read(os.path.join(ARGS.data, "credentials"))
CREDS = Credentials(cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"])

SENT = 0


class Resp:
    def __init__(self, status, body, raw, elapsed, transport=None):
        self.status = status
        self.body = body
        self.raw = raw
        self.elapsed = elapsed
        self.transport = transport

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def type(self):
        if self.transport:
            return "TRANSPORT:" + self.transport
        if isinstance(self.body, dict):
            t = self.body.get("__type")
            if t:
                return t.split("#")[-1]
        return None if self.ok else "?"

    @property
    def message(self):
        if isinstance(self.body, dict):
            return self.body.get("message", self.body.get("Message"))
        return self.raw[:300].decode("utf-8", "replace") if self.raw else None


def send(op, body, region=REGION, target=None, content_type="application/x-amz-json-1.1",
         timeout=60):
    """POST one signed AWS JSON 1.1 request; body is a dict or raw bytes."""
    global SENT
    SENT += 1
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = f"http://{ARGS.host}:{ARGS.port}/"
    headers = {"X-Amz-Target": target or f"TrentService.{op}"}
    if content_type:
        headers["Content-Type"] = content_type
    req = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(CREDS, "kms", region).add_auth(req)
    conn = http.client.HTTPConnection(ARGS.host, ARGS.port, timeout=timeout)
    t0 = time.time()
    try:
        conn.request("POST", "/", body=data, headers=dict(req.headers.items()))
        r = conn.getresponse()
        raw = r.read()
        status = r.status
    except Exception as e:  # connection reset, timeout, ...
        return Resp(None, None, b"", time.time() - t0, transport=f"{type(e).__name__}: {e}")
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Resp(status, parsed, raw, time.time() - t0)


def must(op, body, region=REGION):
    r = send(op, body, region)
    if not r.ok:
        raise SystemExit(f"setup {op} failed: {r.status} {r.type} {r.message}")
    return r.body


def b64(data):
    return base64.b64encode(data).decode()


# --------------------------------------------------------------------------
# Setup: keys and other fixtures
# --------------------------------------------------------------------------
K = {}
FIX = {}
TAG = uuid.uuid4().hex[:8]


def create_key(name, **params):
    params.setdefault("Description", f"probe {name}")
    K[name] = must("CreateKey", params)["KeyMetadata"]["KeyId"]


def setup():
    create_key("sym")
    create_key("sym_rot")
    create_key("victim_dis")
    create_key("victim_sched")
    create_key("victim_cancel")
    create_key("rsa_sign", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    create_key("rsa_enc", KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    create_key("ecc_sign", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    create_key("ecc_ka", KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    create_key("hmac", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    create_key("ext", Origin="EXTERNAL")
    create_key("ext_imported", Origin="EXTERNAL")
    create_key("mrk", MultiRegion=True)
    must("ScheduleKeyDeletion", {"KeyId": K["victim_cancel"], "PendingWindowInDays": 7})
    # Import real material (RSAES_OAEP_SHA_256 of 32 bytes) into two EXTERNAL keys.
    create_key("ext_kept", Origin="EXTERNAL")
    FIX["imported"] = all(import_material(K[n]) for n in ("ext_imported", "ext_kept"))
    p = must("GetParametersForImport", {"KeyId": K["ext"], "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
                                        "WrappingKeySpec": "RSA_2048"})
    FIX["import_token"] = p["ImportToken"]
    FIX["ct"] = must("Encrypt", {"KeyId": K["sym"], "Plaintext": b64(b"hello")})["CiphertextBlob"]
    FIX["msg"] = b64(b"message to sign")
    FIX["sig"] = must("Sign", {"KeyId": K["ecc_sign"], "Message": FIX["msg"],
                               "SigningAlgorithm": "ECDSA_SHA_256"})["Signature"]
    FIX["mac"] = must("GenerateMac", {"KeyId": K["hmac"], "Message": FIX["msg"],
                                      "MacAlgorithm": "HMAC_SHA_256"})["Mac"]
    FIX["peer_pub"] = must("GetPublicKey", {"KeyId": K["ecc_sign"]})["PublicKey"]
    FIX["policy"] = must("GetKeyPolicy", {"KeyId": K["sym"], "PolicyName": "default"})["Policy"]
    FIX["alias_del"] = f"alias/probe-del-{TAG}"
    must("CreateAlias", {"AliasName": FIX["alias_del"], "TargetKeyId": K["sym"]})
    FIX["alias_upd"] = f"alias/probe-upd-{TAG}"
    must("CreateAlias", {"AliasName": FIX["alias_upd"], "TargetKeyId": K["sym"]})
    g = must("CreateGrant", {"KeyId": K["sym"], "GranteePrincipal": f"arn:aws:iam::{ACCOUNT}:role/probe",
                             "RetiringPrincipal": f"arn:aws:iam::{ACCOUNT}:root",
                             "Operations": ["Decrypt"]})
    FIX["retire_token"] = g["GrantToken"]
    g = must("CreateGrant", {"KeyId": K["sym"], "GranteePrincipal": f"arn:aws:iam::{ACCOUNT}:role/probe",
                             "Operations": ["Encrypt"]})
    FIX["revoke_grant"] = g["GrantId"]
    must("TagResource", {"KeyId": K["sym"], "Tags": [{"TagKey": "k", "TagValue": "v"}]})


def import_material(key_id):
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        p = must("GetParametersForImport", {"KeyId": key_id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
                                            "WrappingKeySpec": "RSA_2048"})
        pub = serialization.load_der_public_key(base64.b64decode(p["PublicKey"]))
        enc = pub.encrypt(os.urandom(32), padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                       algorithm=hashes.SHA256(), label=None))
        must("ImportKeyMaterial", {"KeyId": key_id, "ImportToken": p["ImportToken"],
                                   "EncryptedKeyMaterial": b64(enc),
                                   "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
        return True
    except Exception as e:  # noqa
        print("import setup failed:", e)
        return False


COUNTER = [0]


def fresh(prefix):
    COUNTER[0] += 1
    return f"{prefix}-{TAG}-{COUNTER[0]}"


PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/probe"

# A valid base request for each supported operation (a function: some need
# fresh names).
BASE = {
    "CancelKeyDeletion": lambda: {"KeyId": K["victim_cancel"]},
    "CreateAlias": lambda: {"AliasName": "alias/" + fresh("probe"), "TargetKeyId": K["sym"]},
    "CreateGrant": lambda: {"KeyId": K["sym"], "GranteePrincipal": PRINCIPAL, "Operations": ["Decrypt"]},
    "CreateKey": lambda: {"Description": "probe created"},
    "Decrypt": lambda: {"CiphertextBlob": FIX["ct"]},
    "DeleteAlias": lambda: {"AliasName": FIX["alias_del"]},
    "DeleteImportedKeyMaterial": lambda: {"KeyId": K["ext_imported"]},
    "DeriveSharedSecret": lambda: {"KeyId": K["ecc_ka"], "KeyAgreementAlgorithm": "ECDH",
                                   "PublicKey": FIX["peer_pub"]},
    "DescribeKey": lambda: {"KeyId": K["sym"]},
    "DisableKey": lambda: {"KeyId": K["victim_dis"]},
    "DisableKeyRotation": lambda: {"KeyId": K["sym_rot"]},
    "EnableKey": lambda: {"KeyId": K["victim_dis"]},
    "EnableKeyRotation": lambda: {"KeyId": K["sym_rot"], "RotationPeriodInDays": 365},
    "Encrypt": lambda: {"KeyId": K["sym"], "Plaintext": b64(b"hello")},
    "GenerateDataKey": lambda: {"KeyId": K["sym"], "KeySpec": "AES_256"},
    "GenerateDataKeyPair": lambda: {"KeyId": K["sym"], "KeyPairSpec": "ECC_NIST_P256"},
    "GenerateDataKeyPairWithoutPlaintext": lambda: {"KeyId": K["sym"], "KeyPairSpec": "ECC_NIST_P256"},
    "GenerateDataKeyWithoutPlaintext": lambda: {"KeyId": K["sym"], "KeySpec": "AES_256"},
    "GenerateMac": lambda: {"KeyId": K["hmac"], "Message": FIX["msg"], "MacAlgorithm": "HMAC_SHA_256"},
    "GenerateRandom": lambda: {"NumberOfBytes": 16},
    "GetKeyPolicy": lambda: {"KeyId": K["sym"], "PolicyName": "default"},
    "GetKeyRotationStatus": lambda: {"KeyId": K["sym"]},
    "GetParametersForImport": lambda: {"KeyId": K["ext"], "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
                                       "WrappingKeySpec": "RSA_2048"},
    "GetPublicKey": lambda: {"KeyId": K["rsa_sign"]},
    "ImportKeyMaterial": lambda: {"KeyId": K["ext"], "ImportToken": FIX["import_token"],
                                  "EncryptedKeyMaterial": b64(os.urandom(256)),
                                  "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"},
    "ListAliases": lambda: {},
    "ListGrants": lambda: {"KeyId": K["sym"]},
    "ListKeyPolicies": lambda: {"KeyId": K["sym"]},
    "ListKeyRotations": lambda: {"KeyId": K["sym"]},
    "ListKeys": lambda: {},
    "ListResourceTags": lambda: {"KeyId": K["sym"]},
    "ListRetirableGrants": lambda: {"RetiringPrincipal": f"arn:aws:iam::{ACCOUNT}:root"},
    "PutKeyPolicy": lambda: {"KeyId": K["sym"], "PolicyName": "default", "Policy": FIX["policy"]},
    "ReEncrypt": lambda: {"CiphertextBlob": FIX["ct"], "DestinationKeyId": K["sym"]},
    "ReplicateKey": lambda: {"KeyId": K["mrk"], "ReplicaRegion": OTHER_REGION},
    "RetireGrant": lambda: {"GrantToken": FIX["retire_token"]},
    "RevokeGrant": lambda: {"KeyId": K["sym"], "GrantId": FIX["revoke_grant"]},
    "RotateKeyOnDemand": lambda: {"KeyId": K["sym_rot"]},
    "ScheduleKeyDeletion": lambda: {"KeyId": K["victim_sched"], "PendingWindowInDays": 7},
    "Sign": lambda: {"KeyId": K["ecc_sign"], "Message": FIX["msg"], "SigningAlgorithm": "ECDSA_SHA_256"},
    "TagResource": lambda: {"KeyId": K["sym"], "Tags": [{"TagKey": "k2", "TagValue": "v"}]},
    "UntagResource": lambda: {"KeyId": K["sym"], "TagKeys": ["k2"]},
    "UpdateAlias": lambda: {"AliasName": FIX["alias_upd"], "TargetKeyId": K["sym"]},
    "UpdateKeyDescription": lambda: {"KeyId": K["sym"], "Description": "updated"},
    "UpdatePrimaryRegion": lambda: {"KeyId": K["mrk"], "PrimaryRegion": OTHER_REGION},
    "Verify": lambda: {"KeyId": K["ecc_sign"], "Message": FIX["msg"], "Signature": FIX["sig"],
                       "SigningAlgorithm": "ECDSA_SHA_256"},
    "VerifyMac": lambda: {"KeyId": K["hmac"], "Message": FIX["msg"], "MacAlgorithm": "HMAC_SHA_256",
                          "Mac": FIX["mac"]},
}
UNSUPPORTED = sorted(set(MODEL["operations"]) - set(BASE))

# Members whose value the base omits but a violation probe may add.
# Some optional members would change what the operation does (e.g.
# CustomKeyStoreId); violating them is still a model violation.

# --------------------------------------------------------------------------
# Model-driven mutations
# --------------------------------------------------------------------------


def lc(name):
    """AWS's validation path spelling of a member: first letter lower-case."""
    return name[0].lower() + name[1:]


# Values that break a pattern but keep the length within bounds.
PATTERN_BREAKERS = {
    "AliasNameType": "alias/bad name!",
    "PrincipalIdType": f"arn:aws:iam::{ACCOUNT}:role/bad name",
    "GrantNameType": "bad name",
    "XksKeyIdType": "bad key!",
    "BackingKeyIdType": "g" * 64,
    "KeyMaterialDescriptionType": "bad!description",
    "MarkerType": "\u0100\u0101",
    "PolicyNameType": "bad-name",
    "RegionType": "US-EAST-1",
    "CloudHsmClusterIdType": "cluster-1111111111111",
    "XksProxyUriEndpointType": "http://example.com",
    "XksProxyUriPathType": "/not/the/path/v1",
    "XksProxyVpcEndpointServiceNameType": "com.example.vpce.svc-1234",
    "AccountIdType": "12345678901a",
}
# Patterns without ^...$: whether AWS anchors them (Smithy: not anchored)
# is uncertain.
UNANCHORED = {"MarkerType", "PolicyNameType", "PolicyType", "CloudHsmClusterIdType", "AccountIdType"}


def valid_value(shape_name, member_name=None):
    """A value valid for the shape (used to fill lists or nested members)."""
    s = SHAPES[shape_name]
    t = s["type"]
    if t == "string":
        if "enum" in s:
            return s["enum"][0]
        if shape_name == "PrincipalIdType":
            return PRINCIPAL
        if shape_name == "RegionType":
            return OTHER_REGION
        if shape_name == "AliasNameType":
            return "alias/" + fresh("probe")
        n = max(s.get("min", 1), 1)
        if shape_name == "BackingKeyIdType":
            return "a" * 64
        return "x" * n
    if t == "integer":
        return s.get("min", 1)
    if t == "boolean":
        return False
    if t == "blob":
        return b64(b"x" * max(s.get("min", 1), 1))
    if t == "list":
        return [valid_value(s["member"]["shape"])]
    if t == "map":
        return {"k": "v"}
    if t == "structure":
        return {m: valid_value(ms["shape"], m) for m, ms in s["members"].items()
                if m in s.get("required", [])}
    if t == "timestamp":
        return time.time() + 86400
    raise ValueError(t)


class Probe:
    def __init__(self, case, body, expect, path=None, phrase=None, sure=True, note=None):
        self.case = case
        self.body = body
        self.expect = expect  # "ValidationException", "SerializationException", "SAME_AS_BASE", ...
        self.path = path  # AWS validation path, e.g. keyId, tags.1.member.tagKey
        self.phrase = phrase  # constraint phrase AWS uses
        self.sure = sure
        self.note = note


def length_phrase(kind, bound, s):
    if kind == "min":
        return f"Member must have length greater than or equal to {bound}"
    return f"Member must have length less than or equal to {bound}"


def value_phrase(kind, bound):
    if kind == "min":
        return f"Member must have value greater than or equal to {bound}"
    return f"Member must have value less than or equal to {bound}"


def violations(shape_name, path, label, depth=0):
    """(label, bad value, path, phrase, sure, note) for one member shape."""
    s = SHAPES[shape_name]
    t = s["type"]
    out = []
    if t == "string":
        if "min" in s and s["min"] > 0:
            if shape_name == "BackingKeyIdType":
                v = "a" * (s["min"] - 1)
            else:
                v = "x" * (s["min"] - 1)
            out.append((f"{label} shorter than min {s['min']}", v, path, length_phrase("min", s["min"], s), True, None))
        if "max" in s:
            v = ("a" if shape_name == "BackingKeyIdType" else "x") * (s["max"] + 1)
            if shape_name == "RegionType":
                v = "a" * (s["max"] + 1)
            out.append((f"{label} longer than max {s['max']}", v, path, length_phrase("max", s["max"], s), True, None))
        if "enum" in s:
            out.append((f"{label} not in enum", "NOT_A_VALUE", path, "Member must satisfy enum value set", True, None))
            out.append((f"{label} enum in wrong case", s["enum"][0].lower(), path, "Member must satisfy enum value set", True, None))
        if "pattern" in s:
            v = PATTERN_BREAKERS.get(shape_name)
            if shape_name == "PolicyType":
                v = FIX["policy"].replace('"Version"', '"Versi\u0100n"', 1)
            if v is not None:
                out.append((f"{label} breaks pattern {s['pattern']}", v, path,
                            "Member must satisfy regular expression pattern",
                            shape_name not in UNANCHORED,
                            "pattern not anchored; AWS may or may not refuse" if shape_name in UNANCHORED else None))
        out.append((f"{label} JSON number for string", 12345, path, None, True, "SER"))
        if depth == 0:
            out.append((f"{label} JSON object for string", {"a": "b"}, path, None, True, "SER"))
    elif t == "integer":
        if "min" in s:
            out.append((f"{label} below min {s['min']}", s["min"] - 1, path, value_phrase("min", s["min"]), True, None))
        if "max" in s:
            out.append((f"{label} above max {s['max']}", s["max"] + 1, path, value_phrase("max", s["max"]), True, None))
        out.append((f"{label} JSON string for integer", str(s.get("min", 1) + 1), path, None, True, "SER"))
        out.append((f"{label} fractional number", 100.5, path, None, False, "SER"))
        out.append((f"{label} integer beyond 64 bits", 10 ** 20, path, None, False, "SER"))
        out.append((f"{label} boolean for integer", True, path, None, True, "SER"))
    elif t == "boolean":
        out.append((f"{label} JSON string for boolean", "true", path, None, True, "SER"))
        out.append((f"{label} JSON number for boolean", 1, path, None, True, "SER"))
    elif t == "blob":
        if "min" in s and s["min"] > 0:
            out.append((f"{label} empty blob (min {s['min']})", "", path, length_phrase("min", s["min"], s), True, None))
        if "max" in s:
            out.append((f"{label} blob of max+1={s['max'] + 1} bytes", b64(b"\0" * (s["max"] + 1)), path,
                        length_phrase("max", s["max"], s), True, None))
        out.append((f"{label} blob not base64", "not base64!!", path, None, False, "SER"))
        out.append((f"{label} JSON number for blob", 12345, path, None, True, "SER"))
    elif t == "timestamp":
        out.append((f"{label} non-date string for timestamp", "not a date", path, None, True, "SER"))
        out.append((f"{label} object for timestamp", {"a": 1}, path, None, True, "SER"))
    elif t == "list":
        ms = s["member"]["shape"]
        if "max" in s:
            v = [valid_value(ms) for _ in range(s["max"] + 1)]
            out.append((f"{label} list of max+1={s['max'] + 1} members", v, path, length_phrase("max", s["max"], s), True, None))
        if s.get("min", 0) > 0:
            out.append((f"{label} empty list (min {s['min']})", [], path, length_phrase("min", s["min"], s), True, None))
        out.append((f"{label} JSON string for list", "x", path, None, True, "SER"))
        out.append((f"{label} JSON object for list", {"a": "b"}, path, None, True, "SER"))
        # Violations of the first member.
        for (l2, v2, p2, ph2, sure2, note2) in violations(ms, f"{path}.1.member", f"{label}[0]", depth + 1):
            if note2 == "SER" and SHAPES[ms]["type"] != "structure" and "number" not in l2:
                continue
            out.append((l2, [v2], p2, ph2, sure2, note2 or "LISTMEMBER"))
    elif t == "map":
        out.append((f"{label} JSON list for map", ["a"], path, None, True, "SER"))
        out.append((f"{label} JSON string for map", "x", path, None, True, "SER"))
        out.append((f"{label} map value a number", {"a": 1}, path, None, True, "SER"))
    elif t == "structure":
        out.append((f"{label} JSON string for structure", "x", path, None, True, "SER"))
        out.append((f"{label} JSON list for structure", ["x"], path, None, True, "SER"))
        base = valid_value(shape_name)
        for req in s.get("required", []):
            v = dict(base)
            v.pop(req, None)
            out.append((f"{label} without required {req}", v, f"{path}.{lc(req)}", "Member must not be null", True, "NULL"))
        for m, mm in s["members"].items():
            for (l2, v2, p2, ph2, sure2, note2) in violations(mm["shape"], f"{path}.{lc(m)}", f"{label}.{m}", depth + 1):
                if note2 == "SER" and "number" not in l2 and "list for map" not in l2:
                    continue
                v = dict(base)
                v[m] = v2
                out.append((l2, v, p2, ph2, sure2, note2))
    return out


def probes_for(op):
    o = MODEL["operations"][op]
    ins = SHAPES[o["input"]["shape"]]
    base = BASE[op]
    out = []
    # unknown member first: it should do what the base does
    b = base()
    b["ProbeUnknownMember"] = "x"
    out.append(Probe("unknown extra member", b, "SAME_AS_BASE"))
    b = base()
    b["keyId"] = "x" * 5000
    out.append(Probe("unknown member differing only in case (keyId, 5000 chars)", b, "SAME_AS_BASE",
                     sure=False, note="AWS matches member names case-sensitively (believed)"))
    for req in ins.get("required", []):
        b = base()
        b.pop(req, None)
        out.append(Probe(f"missing required {req}", b, "ValidationException", lc(req),
                         "Member must not be null"))
        b = base()
        b[req] = None
        out.append(Probe(f"required {req} is JSON null", b, "ValidationException", lc(req),
                         "Member must not be null", sure=False, note="AWS treats null as absent (believed)"))
    for m, mm in ins["members"].items():
        for (label, v, path, phrase, sure, note) in violations(mm["shape"], lc(m), m):
            b = base()
            b[m] = v
            if note == "SER":
                out.append(Probe(label, b, "SerializationException", path, None, sure))
            else:
                out.append(Probe(label, b, "ValidationException", path, phrase, sure,
                                 note if note not in ("LISTMEMBER", "NULL") else None))
    return out


KEY_MEMBERS = ("KeyId", "TargetKeyId", "DestinationKeyId")
NOKEY = str(uuid.uuid4())


def lookup_variant(op, probe):
    """The same model violation, with the key reference naming no key (or a
    grant token/ciphertext that is not valid): AWS validates the model
    before any lookup, so the answer must stay ValidationException."""
    if probe.expect != "ValidationException" or not probe.sure or not isinstance(probe.body, dict):
        return None
    body = probe.body
    for km in KEY_MEMBERS:
        if km in body and isinstance(body[km], str) and body[km] in K.values() \
                and not (probe.path or "").startswith(lc(km)):
            b = dict(body)
            b[km] = NOKEY
            return Probe(probe.case + f" [+{km} names no key]", b, probe.expect, probe.path, probe.phrase)
    if op == "RetireGrant" and body.get("GrantToken") == FIX["retire_token"] \
            and not (probe.path or "").startswith("grantToken"):
        b = dict(body)
        b["GrantToken"] = "not-a-grant-token"
        return Probe(probe.case + " [+GrantToken not valid]", b, probe.expect, probe.path, probe.phrase)
    if op in ("Decrypt", "ReEncrypt") and body.get("CiphertextBlob") == FIX["ct"] \
            and not (probe.path or "").startswith("ciphertextBlob"):
        b = dict(body)
        b["CiphertextBlob"] = b64(b"\x01" * 64)
        return Probe(probe.case + " [+CiphertextBlob undecryptable]", b, probe.expect, probe.path, probe.phrase)
    return None


def dryrun_side_effects():
    """DryRun=true must not change anything (AWS: DryRunOperationException)."""
    k = K["sym"]
    grants = lambda: len(must("ListGrants", {"KeyId": k, "Limit": 100})["Grants"])
    mk = lambda: must("CreateGrant", {"KeyId": k, "GranteePrincipal": PRINCIPAL,
                                      "RetiringPrincipal": f"arn:aws:iam::{ACCOUNT}:root",
                                      "Operations": ["Decrypt"]})
    cases = []
    before = grants()
    r = send("CreateGrant", {"KeyId": k, "GranteePrincipal": PRINCIPAL, "Operations": ["Decrypt"], "DryRun": True})
    cases.append(("CreateGrant", "DryRun=true", r, grants() != before))
    g = mk()
    before = grants()
    r = send("RevokeGrant", {"KeyId": k, "GrantId": g["GrantId"], "DryRun": True})
    cases.append(("RevokeGrant", "DryRun=true", r, grants() != before))
    g = mk()
    before = grants()
    r = send("RetireGrant", {"GrantToken": g["GrantToken"], "DryRun": True})
    cases.append(("RetireGrant", "DryRun=true (by GrantToken)", r, grants() != before))
    g = mk()
    before = grants()
    r = send("RetireGrant", {"KeyId": k, "GrantId": g["GrantId"], "DryRun": True})
    cases.append(("RetireGrant", "DryRun=true (by KeyId+GrantId)", r, grants() != before))
    for op, case, r, changed in cases:
        rec = judge(op, Probe(case, {}, "DryRunOperationException"), r)
        if changed:
            rec["verdict"] = "DRYRUN_EXECUTED"
            rec["why"] = "the operation was carried out despite DryRun=true"
            print(f"   ^ state changed: {rec['why']}")
    # RetireGrant with a valid token: are KeyId/GrantId still checked against the model?
    for member, value, path, phrase in [
            ("GrantId", "x" * 129, "grantId", "Member must have length less than or equal to 128"),
            ("KeyId", "x" * 2049, "keyId", "Member must have length less than or equal to 2048"),
            ("GrantId", "", "grantId", "Member must have length greater than or equal to 1")]:
        g = mk()
        before = grants()
        r = send("RetireGrant", {"GrantToken": g["GrantToken"], member: value})
        rec = judge("RetireGrant", Probe(f"valid GrantToken + {member} of {len(value)} chars", {}, "ValidationException",
                                         path, phrase), r)
        if grants() != before:
            rec["why"] += " (grant was retired)"


# Operation-specific probes beyond the model (semantics AWS documents).
def semantic_probes():
    arn = lambda kid, region=REGION: f"arn:aws:kms:{region}:{ACCOUNT}:key/{kid}"
    missing = str(uuid.uuid4())
    P = []
    P.append(("DescribeKey", Probe("key id of no key", {"KeyId": missing}, "NotFoundException",
                                   phrase=f"Key '{arn(missing)}' does not exist")))
    P.append(("DescribeKey", Probe("malformed key id", {"KeyId": "not-a-key"}, "NotFoundException",
                                   phrase="Invalid keyId")))
    P.append(("DescribeKey", Probe("alias of no key", {"KeyId": "alias/no-such-alias-" + TAG},
                                   "NotFoundException", phrase="is not found")))
    P.append(("DescribeKey", Probe("key ARN of the other region", {"KeyId": arn(K["sym"], OTHER_REGION)},
                                   "NotFoundException")))
    P.append(("DescribeKey", Probe("ARN of another service", {"KeyId": f"arn:aws:s3:::bucket"},
                                   "NotFoundException", sure=False)))
    P.append(("Encrypt", Probe("sign key used for Encrypt", {"KeyId": K["rsa_sign"], "Plaintext": b64(b"x"),
                                                            "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
                               "InvalidKeyUsageException")))
    P.append(("Encrypt", Probe("RSA key without EncryptionAlgorithm", {"KeyId": K["rsa_enc"], "Plaintext": b64(b"x")},
                               "ValidationException", sure=False)))
    P.append(("Encrypt", Probe("RSA key, SYMMETRIC_DEFAULT", {"KeyId": K["rsa_enc"], "Plaintext": b64(b"x"),
                                                             "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                               "InvalidKeyUsageException", sure=False)))
    P.append(("Encrypt", Probe("RSA_2048 OAEP_SHA_256 plaintext 191 bytes",
                               {"KeyId": K["rsa_enc"], "Plaintext": b64(b"x" * 191),
                                "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}, "ValidationException", sure=False)))
    P.append(("Encrypt", Probe("symmetric key, RSAES_OAEP_SHA_256", {"KeyId": K["sym"], "Plaintext": b64(b"x"),
                                                                     "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
                               "InvalidKeyUsageException", sure=False)))
    P.append(("Encrypt", Probe("plaintext 4097 bytes", {"KeyId": K["sym"], "Plaintext": b64(b"x" * 4097)},
                               "ValidationException", "plaintext",
                               "Member must have length less than or equal to 4096")))
    P.append(("Encrypt", Probe("encryption context with empty key", {"KeyId": K["sym"], "Plaintext": b64(b"x"),
                                                                     "EncryptionContext": {"": "v"}},
                               "SUCCESS?", sure=False)))
    P.append(("GenerateDataKey", Probe("KeySpec and NumberOfBytes", {"KeyId": K["sym"], "KeySpec": "AES_256",
                                                                      "NumberOfBytes": 32},
                                       "ValidationException")))
    P.append(("GenerateDataKey", Probe("neither KeySpec nor NumberOfBytes", {"KeyId": K["sym"]},
                                       "ValidationException")))
    P.append(("GenerateDataKey", Probe("HMAC key", {"KeyId": K["hmac"], "KeySpec": "AES_256"},
                                       "InvalidKeyUsageException")))
    P.append(("GenerateRandom", Probe("no NumberOfBytes", {}, "ValidationException",
                                      phrase="NumberOfBytes is required.")))
    P.append(("ScheduleKeyDeletion", Probe("PendingWindowInDays 6 (model ok, doc 7-30)",
                                           {"KeyId": K["sym"], "PendingWindowInDays": 6},
                                           "ValidationException",
                                           phrase="PendingWindowInDays must be between 7 and 30")))
    P.append(("ScheduleKeyDeletion", Probe("PendingWindowInDays 31 (model ok, doc 7-30)",
                                           {"KeyId": K["sym"], "PendingWindowInDays": 31},
                                           "ValidationException",
                                           phrase="PendingWindowInDays must be between 7 and 30")))
    for op, lim in [("ListAliases", 101), ("ListGrants", 101), ("ListResourceTags", 51),
                    ("ListRetirableGrants", 101), ("ListKeys", 1000), ("ListKeyPolicies", 1000),
                    ("ListKeyRotations", 1000)]:
        b = BASE[op]()
        b["Limit"] = lim
        P.append((op, Probe(f"Limit {lim} (model 1-1000, doc smaller?)", b, "SUCCESS?", sure=False,
                            note="AWS docs give 1-100 (ListAliases/ListGrants/ListRetirableGrants), 1-50 (ListResourceTags); whether AWS refuses larger values is not documented as an error")))
    for op in ("ListKeys", "ListAliases"):
        P.append((op, Probe("Marker never issued", {"Marker": "bogusmarker"}, "InvalidMarkerException", sure=False)))
    P.append(("ListGrants", Probe("Marker never issued", {"KeyId": K["sym"], "Marker": "bogusmarker"},
                                  "InvalidMarkerException", sure=False)))
    P.append(("CreateKey", Probe("RSA_2048 without KeyUsage", {"KeySpec": "RSA_2048"}, "ValidationException",
                                 sure=False)))
    P.append(("CreateKey", Probe("HMAC_256 with ENCRYPT_DECRYPT", {"KeySpec": "HMAC_256", "KeyUsage": "ENCRYPT_DECRYPT"},
                                 "ValidationException", phrase="KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256")))
    P.append(("CreateKey", Probe("KeySpec and CustomerMasterKeySpec", {"KeySpec": "SYMMETRIC_DEFAULT",
                                                                        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"},
                                 "ValidationException", sure=False)))
    P.append(("CreateKey", Probe("Policy 40000 chars (model 131072; doc 32 KB)",
                                 {"Policy": FIX["policy"][:-1] + " " * 40000 + "}"},
                                 "LimitExceededException?", sure=False)))
    P.append(("CreateKey", Probe("Policy not JSON", {"Policy": "not json"}, "MalformedPolicyDocumentException")))
    P.append(("CreateKey", Probe("tag key aws:x", {"Tags": [{"TagKey": "aws:x", "TagValue": "v"}]},
                                 "TagException", phrase="Tags beginning with aws: are reserved")))
    P.append(("CreateKey", Probe("51 tags", {"Tags": [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)]},
                                 "TagException")))
    P.append(("CreateKey", Probe("duplicate tag keys", {"Tags": [{"TagKey": "k", "TagValue": "v"},
                                                                  {"TagKey": "k", "TagValue": "w"}]},
                                 "TagException")))
    P.append(("CreateAlias", Probe("alias without alias/ prefix", {"AliasName": "probe-" + TAG, "TargetKeyId": K["sym"]},
                                   "ValidationException", phrase='Alias must start with the prefix "alias/"')))
    P.append(("CreateAlias", Probe("alias/aws/ reserved", {"AliasName": "alias/aws/probe", "TargetKeyId": K["sym"]},
                                   "NotAuthorizedException?", sure=False,
                                   note="AWS docs: alias/aws/ reserved; real answer believed NotAuthorizedException or InvalidAliasNameException")))
    P.append(("CreateAlias", Probe("target an alias", {"AliasName": "alias/" + fresh("p"), "TargetKeyId": FIX["alias_upd"]},
                                   "NotFoundException?", sure=False)))
    P.append(("CreateAlias", Probe("alias exists", {"AliasName": FIX["alias_upd"], "TargetKeyId": K["sym"]},
                                   "AlreadyExistsException")))
    P.append(("CreateGrant", Probe("grantee not an ARN", {"KeyId": K["sym"], "GranteePrincipal": "bob",
                                                           "Operations": ["Decrypt"]}, "InvalidArnException?", sure=False)))
    P.append(("CreateGrant", Probe("empty Operations list", {"KeyId": K["sym"], "GranteePrincipal": PRINCIPAL,
                                                              "Operations": []}, "ValidationException", sure=False)))
    P.append(("CreateGrant", Probe("Sign op on symmetric key", {"KeyId": K["sym"], "GranteePrincipal": PRINCIPAL,
                                                                 "Operations": ["Sign"]}, "ValidationException", sure=False)))
    P.append(("RevokeGrant", Probe("grant id of no grant", {"KeyId": K["sym"], "GrantId": "0" * 64},
                                   "NotFoundException", sure=False)))
    P.append(("RetireGrant", Probe("nothing given", {}, "ValidationException", sure=False)))
    P.append(("RetireGrant", Probe("bogus grant token", {"GrantToken": "bogus"}, "InvalidGrantTokenException")))
    P.append(("GetKeyPolicy", Probe("PolicyName other than default", {"KeyId": K["sym"], "PolicyName": "other"},
                                    "NotFoundException", sure=False)))
    P.append(("Sign", Probe("DIGEST of wrong length", {"KeyId": K["ecc_sign"], "Message": b64(b"x" * 31),
                                                       "MessageType": "DIGEST", "SigningAlgorithm": "ECDSA_SHA_256"},
                            "ValidationException", sure=False)))
    P.append(("Sign", Probe("RSA algorithm on ECC key", {"KeyId": K["ecc_sign"], "Message": FIX["msg"],
                                                         "SigningAlgorithm": "RSASSA_PSS_SHA_256"},
                            "InvalidKeyUsageException")))
    P.append(("Verify", Probe("bad signature", {"KeyId": K["ecc_sign"], "Message": b64(b"other"),
                                                "Signature": FIX["sig"], "SigningAlgorithm": "ECDSA_SHA_256"},
                              "KMSInvalidSignatureException")))
    P.append(("VerifyMac", Probe("bad mac", {"KeyId": K["hmac"], "Message": b64(b"other"), "Mac": FIX["mac"],
                                             "MacAlgorithm": "HMAC_SHA_256"}, "KMSInvalidMacException")))
    P.append(("GenerateMac", Probe("wrong MacAlgorithm for key", {"KeyId": K["hmac"], "Message": FIX["msg"],
                                                                  "MacAlgorithm": "HMAC_SHA_512"},
                                   "InvalidKeyUsageException")))
    P.append(("Decrypt", Probe("garbage ciphertext", {"CiphertextBlob": b64(os.urandom(100))},
                               "InvalidCiphertextException")))
    P.append(("Decrypt", Probe("no CiphertextBlob, no DryRun", {}, "ValidationException", "ciphertextBlob",
                               "Member must not be null", sure=False,
                               note="CiphertextBlob became optional in the model with DryRunModifiers")))
    P.append(("ReEncrypt", Probe("no CiphertextBlob, no DryRun", {"DestinationKeyId": K["sym"]}, "ValidationException",
                                 "ciphertextBlob", "Member must not be null", sure=False)))
    P.append(("DeriveSharedSecret", Probe("PublicKey not SPKI", {"KeyId": K["ecc_ka"], "KeyAgreementAlgorithm": "ECDH",
                                                                 "PublicKey": b64(b"garbage")}, "ValidationException")))
    P.append(("UpdatePrimaryRegion", Probe("region with no replica", {"KeyId": K["mrk"], "PrimaryRegion": REGION},
                                           "InvalidArnException?", sure=False)))
    P.append(("ReplicateKey", Probe("replicate into own region", {"KeyId": K["mrk"], "ReplicaRegion": REGION},
                                    "ValidationException?", sure=False)))
    P.append(("ReplicateKey", Probe("replicate single-Region key", {"KeyId": K["sym"], "ReplicaRegion": OTHER_REGION},
                                    "UnsupportedOperationException")))
    P.append(("EnableKeyRotation", Probe("asymmetric key", {"KeyId": K["rsa_sign"]}, "UnsupportedOperationException")))
    P.append(("GetPublicKey", Probe("symmetric key", {"KeyId": K["sym"]}, "UnsupportedOperationException")))
    P.append(("ImportKeyMaterial", Probe("KEY_MATERIAL_EXPIRES without ValidTo",
                                         {"KeyId": K["ext"], "ImportToken": FIX["import_token"],
                                          "EncryptedKeyMaterial": b64(b"x" * 256),
                                          "ExpirationModel": "KEY_MATERIAL_EXPIRES"}, "ValidationException", sure=False)))
    P.append(("ImportKeyMaterial", Probe("KeyMaterialDescription breaks pattern, ExpirationModel omitted",
                                         {"KeyId": K["ext"], "ImportToken": FIX["import_token"],
                                          "EncryptedKeyMaterial": b64(b"x" * 256), "KeyMaterialDescription": "bad!"},
                                         "ValidationException", "keyMaterialDescription",
                                         "Member must satisfy regular expression pattern")))
    P.append(("UntagResource", Probe("empty TagKeys list", {"KeyId": K["sym"], "TagKeys": []}, "SUCCESS?", sure=False)))
    P.append(("TagResource", Probe("empty Tags list", {"KeyId": K["sym"], "Tags": []}, "SUCCESS?", sure=False)))
    return P


MALFORMED = [
    ("truncated JSON", b'{"KeyId": "abc"', "SerializationException", True),
    ("trailing garbage", b'{"KeyId": "abc"} xyz', "SerializationException", True),
    ("JSON array body", b'["KeyId"]', "SerializationException", True),
    ("JSON string body", b'"hello"', "SerializationException", True),
    ("JSON null body", b"null", "SerializationException", False),
    ("not JSON", b"KeyId=abc", "SerializationException", True),
    ("invalid UTF-8 in string", b'{"KeyId": "\xff\xfe"}', "SerializationException", False),
    ("single quotes", b"{'KeyId': 'abc'}", "SerializationException", True),
    ("duplicate member", None, "SAME_AS_BASE?", False),
    ("deeply nested unknown member (200 levels)", None, "SAME_AS_BASE?", False),
    ("unknown member with huge nested array", None, "SAME_AS_BASE?", False),
    ("unpaired UTF-16 surrogate escape", None, "SerializationException?", False),
    ("NUL character escaped in KeyId", None, "NotFoundException", False),
    ("empty body", b"", "SAME_AS_EMPTY_OBJECT?", False),
]


def malformed_probes():
    out = []
    for op in ("DescribeKey", "ListKeys", "CreateGrant"):
        base = BASE[op]()
        for label, body, expect, sure in MALFORMED:
            if label == "duplicate member":
                s = json.dumps(base)
                body = (s[:-1] + (", " if base else "") + json.dumps(list(base.items())[0][0]) + ": " +
                        json.dumps(list(base.items())[0][1]) + "}").encode() if base else b'{"Limit": 5, "Limit": 6}'
            elif label.startswith("deeply nested"):
                inner = "[" * 200 + "]" * 200
                s = json.dumps(base)
                body = (s[:-1] + (", " if base else "") + '"Deep": ' + inner + "}").encode()
            elif label.startswith("unknown member with huge"):
                s = json.dumps(base)
                body = (s[:-1] + (", " if base else "") + '"Big": [' + ",".join(["1"] * 20000) + "]}").encode()
            elif label.startswith("unpaired"):
                body = b'{"KeyId": "\\ud800abc"}'
            elif label.startswith("NUL"):
                body = b'{"KeyId": "abc\\u0000def"}'
            if op == "ListKeys" and label in ("truncated JSON", "trailing garbage", "invalid UTF-8 in string",
                                              "unpaired UTF-16 surrogate escape", "NUL character escaped in KeyId"):
                body = body.replace(b"KeyId", b"Marker")
                if label.startswith("NUL"):
                    expect = "ValidationException?"
            out.append((op, label, body, expect, sure))
    return out


# --------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------
RESULTS = []


def judge(op, probe, r, base_r=None):
    exp = probe.expect
    sure = probe.sure and not exp.endswith("?")
    exp_core = exp.rstrip("?")
    verdict = "OK"
    why = []
    if r.status is None:
        verdict = "CRASH"
        why.append("no HTTP answer")
    elif r.status >= 500 or r.type == "KMSInternalException":
        verdict = "CRASH"
        why.append("5xx/internal")
    elif r.elapsed > 20:
        verdict = "SLOW"
        why.append(f"slow {r.elapsed:.1f}s")
    elif exp_core in ("SAME_AS_BASE", "SAME_AS_EMPTY_OBJECT"):
        want_ok = base_r is None or base_r.ok
        want_type = None if base_r is None else base_r.type
        if r.ok and want_ok:
            pass
        elif not r.ok and base_r is not None and not base_r.ok and r.type == base_r.type:
            pass
        elif not r.ok and r.type in ("SerializationException", "ValidationException"):
            verdict = "REFUSED_IGNORABLE" if sure else "DIFFERS?"
            why.append(f"base answered {want_type or 'success'}")
        else:
            # a state-dependent difference (e.g. the base changed state first)
            verdict = "OK"
            why.append(f"base answered {want_type or 'success'} (state-dependent)")
    elif exp_core == "SUCCESS":
        if not r.ok:
            verdict = "DIFFERS?"
    else:
        if r.ok:
            verdict = "ACCEPTED" if sure else "ACCEPTED?"
        elif r.type != exp_core:
            verdict = "WRONG_TYPE" if sure else "WRONG_TYPE?"
        elif r.status != 400:
            verdict = "STATUS"
            why.append(f"HTTP {r.status}, AWS uses 400")
        else:
            msg = r.message or ""
            if probe.path and exp_core == "ValidationException":
                # AWS: Value '..' at 'path' failed to satisfy constraint: <phrase>
                alt = probe.path.replace(".1.member", "")
                if f"at '{probe.path}'" not in msg and f"at '{alt}'" not in msg:
                    verdict = "MESSAGE"
                    why.append(f"path '{probe.path}' not named")
                elif probe.phrase and probe.phrase not in msg and "Member must satisfy constraint" not in msg:
                    verdict = "MESSAGE"
                    why.append(f"phrase '{probe.phrase}' absent")
            elif probe.phrase and probe.phrase not in msg:
                verdict = "MESSAGE"
                why.append(f"phrase '{probe.phrase}' absent")
    if probe.note:
        why.append(probe.note)
    rec = {
        "op": op, "case": probe.case, "expect": exp, "sure": sure,
        "status": r.status, "type": r.type, "message": r.message,
        "verdict": verdict, "why": "; ".join(why),
        "elapsed": round(r.elapsed, 3),
    }
    RESULTS.append(rec)
    flag = "" if verdict == "OK" else f"  <-- {verdict} {rec['why']}"
    msg = (r.message or "")
    if len(msg) > 160:
        msg = msg[:160] + "..."
    print(f"[{op}] {probe.case}: {r.status} {r.type} {msg!r}{flag}", flush=True)
    return rec


def trunc_body(b):
    s = json.dumps(b) if not isinstance(b, bytes) else repr(b)
    return s if len(s) < 200 else s[:200] + "..."


# --------------------------------------------------------------------------
# Response shapes
# --------------------------------------------------------------------------
SHAPE_NOTES = []


def check_shape(op, value, shape_name, path):
    s = SHAPES[shape_name]
    t = s["type"]
    if t == "structure":
        if not isinstance(value, dict):
            SHAPE_NOTES.append(f"{op}: {path} is {type(value).__name__}, model says structure")
            return
        for k, v in value.items():
            if k not in s["members"]:
                SHAPE_NOTES.append(f"{op}: {path}.{k} returned but not in model shape {shape_name}")
            else:
                check_shape(op, v, s["members"][k]["shape"], f"{path}.{k}")
        absent = [m for m in s["members"] if m not in value]
        if absent:
            SHAPE_NOTES.append(f"{op}: {path} lacks (optional in model) {absent}")
    elif t == "list":
        if not isinstance(value, list):
            SHAPE_NOTES.append(f"{op}: {path} is {type(value).__name__}, model says list")
            return
        for i, v in enumerate(value[:3]):
            check_shape(op, v, s["member"]["shape"], f"{path}[{i}]")
    elif t == "map":
        if not isinstance(value, dict):
            SHAPE_NOTES.append(f"{op}: {path} is not a map")
    elif t == "string":
        if not isinstance(value, str):
            SHAPE_NOTES.append(f"{op}: {path} is {type(value).__name__}, model says string")
        elif "enum" in s and value not in s["enum"]:
            SHAPE_NOTES.append(f"{op}: {path} = {value!r} not in model enum")
    elif t == "boolean":
        if not isinstance(value, bool):
            SHAPE_NOTES.append(f"{op}: {path} is {type(value).__name__}, model says boolean")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            SHAPE_NOTES.append(f"{op}: {path} is {type(value).__name__}, model says integer")
    elif t == "timestamp":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            SHAPE_NOTES.append(f"{op}: {path} is {type(value).__name__}, model says timestamp (epoch seconds)")
    elif t == "blob":
        if not isinstance(value, str):
            SHAPE_NOTES.append(f"{op}: {path} is not a base64 string")


def shape_checks():
    checks = [
        ("CreateKey", {"Description": "shape check"}),
        ("DescribeKey", {"KeyId": K["sym"]}),
        ("DescribeKey", {"KeyId": K["rsa_sign"]}),
        ("DescribeKey", {"KeyId": K["hmac"]}),
        ("DescribeKey", {"KeyId": K["ecc_ka"]}),
        ("DescribeKey", {"KeyId": K["ext"]}),
        ("DescribeKey", {"KeyId": K["ext_kept"]}),
        ("DescribeKey", {"KeyId": K["mrk"]}),
        ("DescribeKey", {"KeyId": K["victim_sched"]}),
        ("ListKeys", {"Limit": 2}),
        ("ListAliases", {"Limit": 2}),
        ("ListAliases", {"KeyId": K["sym"]}),
        ("GetKeyRotationStatus", {"KeyId": K["sym"]}),
        ("GetKeyRotationStatus", {"KeyId": K["sym_rot"]}),
        ("GetPublicKey", {"KeyId": K["rsa_sign"]}),
        ("GetPublicKey", {"KeyId": K["ecc_ka"]}),
        ("ListGrants", {"KeyId": K["sym"]}),
        ("ListRetirableGrants", {"RetiringPrincipal": f"arn:aws:iam::{ACCOUNT}:root"}),
        ("ListKeyRotations", {"KeyId": K["sym_rot"], "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
        ("ListResourceTags", {"KeyId": K["sym"]}),
        ("Encrypt", {"KeyId": K["sym"], "Plaintext": b64(b"x")}),
        ("Decrypt", {"CiphertextBlob": FIX["ct"]}),
        ("GenerateDataKeyPair", {"KeyId": K["sym"], "KeyPairSpec": "ECC_NIST_P256"}),
        ("Sign", {"KeyId": K["ecc_sign"], "Message": FIX["msg"], "SigningAlgorithm": "ECDSA_SHA_256"}),
        ("GetParametersForImport", {"KeyId": K["ext"], "WrappingAlgorithm": "RSAES_OAEP_SHA_1",
                                    "WrappingKeySpec": "RSA_2048"}),
    ]
    out = []
    for op, body in checks:
        r = send(op, body)
        if not r.ok:
            SHAPE_NOTES.append(f"{op} {body}: failed {r.status} {r.type} {r.message}")
            continue
        out.append({"op": op, "request": body, "response": r.body})
        check_shape(op, r.body, MODEL["operations"][op]["output"]["shape"], op + "Response")
    return out


# --------------------------------------------------------------------------
def main():
    t0 = time.time()
    setup()
    print("keys:", json.dumps(K), flush=True)
    only = set(ARGS.only.split(",")) if ARGS.only else None

    # Operations the model has and Trent does not serve.
    for op in UNSUPPORTED:
        if only and op not in only:
            continue
        r = send(op, {})
        judge(op, Probe("operation not served, body {}", {}, "UnsupportedOperationException?", sure=False,
                        note="AWS serves it; Trent should say it does not"), r)
    r = send(None, {}, target="TrentService.NoSuchOperation")
    judge("NoSuchOperation", Probe("unknown X-Amz-Target", {}, "UnknownOperationException"), r)
    r = send(None, {}, target="KMS.ListKeys")
    judge("ListKeys", Probe("wrong target prefix KMS.", {}, "UnknownOperationException", sure=False), r)
    r = send("ListKeys", {}, content_type="application/json")
    judge("ListKeys", Probe("Content-Type application/json", {}, "SUCCESS?", sure=False), r)
    r = send("ListKeys", {}, content_type=None)
    judge("ListKeys", Probe("no Content-Type", {}, "SUCCESS?", sure=False), r)

    for op in sorted(BASE):
        if only and op not in only:
            continue
        probes = probes_for(op)
        base_r = None
        for i, p in enumerate(probes):
            r = send(op, p.body)
            if i == 0:
                # the base itself, after the unknown-member probe
                base_r = send(op, BASE[op]())
                RESULTS.append({"op": op, "case": "BASE request", "expect": "-", "sure": True,
                                "status": base_r.status, "type": base_r.type, "message": base_r.message,
                                "verdict": "INFO", "why": "", "elapsed": round(base_r.elapsed, 3)})
                print(f"[{op}] BASE: {base_r.status} {base_r.type} {base_r.message!r}", flush=True)
                # compare the unknown-member probe with a fresh base when the
                # base changed state (e.g. DeleteAlias): success counts.
            judge(op, p, r, base_r)
            RESULTS[-1]["body"] = trunc_body(p.body)
        # the same violations, with the key naming no key: still ValidationException?
        for p in probes:
            v = lookup_variant(op, p)
            if v is None:
                continue
            r = send(op, v.body)
            judge(op, v, r)
            RESULTS[-1]["body"] = trunc_body(v.body)

    for op, p in semantic_probes():
        if only and op not in only:
            continue
        r = send(op, p.body)
        judge(op, p, r)
        RESULTS[-1]["body"] = trunc_body(p.body)

    if not only or "CreateGrant" in only:
        dryrun_side_effects()

    for op, label, body, expect, sure in malformed_probes():
        if only and op not in only:
            continue
        r = send(op, body)
        if label == "empty body":
            base_r = send(op, b"{}")
        elif expect.startswith("SAME"):
            base_r = send(op, BASE[op]())
        else:
            base_r = None
        judge(op, Probe("malformed: " + label, body, expect, sure=sure), r, base_r)
        RESULTS[-1]["body"] = trunc_body(body)

    shapes = shape_checks()

    json.dump({"keys": K, "results": RESULTS, "shape_notes": SHAPE_NOTES, "shapes": shapes,
               "requests_sent": SENT}, open(ARGS.out, "w"), indent=1)
    counts = {}
    for r in RESULTS:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    with open(os.path.join(os.path.dirname(ARGS.out), "summary.txt"), "w") as f:
        f.write(f"requests sent (setup and bases included): {SENT}\n")
        f.write(f"probes judged: {sum(v for k, v in counts.items() if k != 'INFO')}\n")
        f.write(json.dumps(counts, indent=1) + "\n\n")
        for r in RESULTS:
            if r["verdict"] not in ("OK", "INFO"):
                f.write(f"{r['verdict']:18} {r['op']}: {r['case']} | expect {r['expect']} | got {r['status']} "
                        f"{r['type']} {str(r['message'])[:200]!r} | {r['why']}\n")
        f.write("\nSHAPES\n" + "\n".join(SHAPE_NOTES) + "\n")
    print("\n", counts, "sent", SENT, f"in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
