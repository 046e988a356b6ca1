#!/usr/bin/env python3
"""Drives Trent's Huawei Cloud KMS dialect with Huawei's official Python SDK
(huaweicloudsdkkms / huaweicloudsdkcore 3.1.219) and checks every answer,
including the JSON types on the wire (the SDK coerces types lossily, so the
raw bodies are checked as well).

Run by tests/huawei.rs, which starts the server and passes a JSON document
on stdin:

    {"endpoint": "http://127.0.0.1:PORT", "projects": {"<id>": "<region>"},
     "root": ["AK", "SK"], "reader": ["AK", "SK"], "token": "...",
     "aws_key_id": "...", "aws_ciphertext": "<base64>", "aws_plaintext": "...",
     "out": "<path of a JSON file for the Rust side>"}

Prints one line per check and exits 1 if any failed.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import traceback
import uuid

import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkkms.v2 import (
    BatchCreateKmsTagsRequest,
    BatchCreateKmsTagsRequestBody,
    CancelKeyDeletionRequest,
    CreateDatakeyRequest,
    CreateDatakeyRequestBody,
    CreateDatakeyWithoutPlaintextRequest,
    CreateEcDatakeyPairRequest,
    CreateEcDatakeyPairRequestBody,
    CreateKeyRequest,
    CreateKeyRequestBody,
    CreateKmsTagRequest,
    CreateKmsTagRequestBody,
    CreateParametersForImportRequest,
    CreateRandomRequest,
    CreateRsaDatakeyPairRequest,
    CreateRsaDatakeyPairRequestBody,
    DecryptDataRequest,
    DecryptDataRequestBody,
    DecryptDatakeyRequest,
    DecryptDatakeyRequestBody,
    DeleteImportedKeyMaterialRequest,
    DeleteKeyRequest,
    DeleteTagRequest,
    DisableKeyRequest,
    DisableKeyRotationRequest,
    EnableKeyRequest,
    EnableKeyRotationRequest,
    EncryptDataRequest,
    EncryptDataRequestBody,
    EncryptDatakeyRequest,
    EncryptDatakeyRequestBody,
    GenerateMacRequest,
    GenerateMacRequestBody,
    GenRandomRequestBody,
    GetParametersForImportRequestBody,
    ImportKeyMaterialRequest,
    ImportKeyMaterialRequestBody,
    KmsClient,
    ListKeyDetailRequest,
    ListKeysRequest,
    ListKeysRequestBody,
    ListKmsByTagsRequest,
    ListKmsByTagsRequestBody,
    ListKmsTagsRequest,
    ListSupportRegionsRequest,
    OperateKeyRequestBody,
    ReplicateKeyRequest,
    ReplicateKeyRequestBody,
    RotateOnDemandRequest,
    RotateOnDemandRequestBody,
    ScheduleKeyDeletionRequestBody,
    ShowKeyRotationStatusRequest,
    ShowKmsTagsRequest,
    ShowPublicKeyRequest,
    SignRequest,
    SignRequestBody,
    Tag,
    TagItem,
    UpdateKeyAliasRequest,
    UpdateKeyAliasRequestBody,
    UpdateKeyDescriptionRequest,
    UpdateKeyDescriptionRequestBody,
    UpdateKeyRotationIntervalRequest,
    UpdateKeyRotationIntervalRequestBody,
    UpdatePrimaryRegionRequest,
    UpdatePrimaryRegionRequestBody,
    ValidateSignatureRequest,
    VerifyMacRequest,
    VerifyMacRequestBody,
    VerifyRequestBody,
)

try:  # parses public keys and checks signatures offline when installed
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
except ImportError:
    serialization = None

EAST, WEST = "us-east-1", "us-west-2"
FAILURES = []
PASSES = 0
RUN = uuid.uuid4().hex[:8]


def check(name, ok, detail=""):
    global PASSES
    if ok:
        PASSES += 1
        print(f"PASS {name}")
    else:
        FAILURES.append(name)
        print(f"FAIL {name}: {detail}")


def raw(response):
    """The JSON body the server sent, before the SDK coerced it."""
    return json.loads(response.raw_content) if response.raw_content else None


def refused(call, status, code, name):
    """Calls `call`, which must fail with `status` and Huawei `code`."""
    try:
        result = call()
    except exceptions.ClientRequestException as e:
        check(
            name,
            e.status_code == status and e.error_code == code,
            f"got {e.status_code} {e.error_code} {e.error_msg}",
        )
        return e
    except exceptions.ServerResponseException as e:
        check(name, False, f"server error {e.status_code} {e.error_code} {e.error_msg}")
        return e
    check(name, False, f"succeeded: {result}")
    return None


def section(fn):
    def run(*args):
        print(f"--- {fn.__name__}")
        try:
            return fn(*args)
        except Exception:  # a crash fails the section, not the whole run
            check(f"{fn.__name__} ran to the end", False, traceback.format_exc())
            return None

    return run


def key_body(key_id):
    return OperateKeyRequestBody(key_id=key_id)


def b64(data):
    return base64.b64encode(data).decode()


def all_strings(obj):
    return isinstance(obj, dict) and all(isinstance(v, str) for v in obj.values())


class Env:
    def __init__(self, spec):
        self.spec = spec
        self.endpoint = spec["endpoint"]
        self.projects = spec["projects"]
        self.east = next(p for p, r in self.projects.items() if r == EAST)
        self.west = next(p for p, r in self.projects.items() if r == WEST)
        self.config = HttpConfig.get_default_config()
        self.config.ignore_ssl_verification = True
        self.config.retry_times = 0
        self.config.timeout = (5, 60)
        self.kms = self.client(self.east)
        self.kms_west = self.client(self.west)

    def client(self, project, credentials=None):
        ak, sk = credentials or self.spec["root"]
        return (
            KmsClient.new_builder()
            .with_http_config(self.config)
            .with_credentials(BasicCredentials(ak, sk, project))
            .with_endpoints([self.endpoint])
            .build()
        )

    def create_key(self, alias, client=None, description=None, spec=None, usage=None):
        body = CreateKeyRequestBody(
            key_alias=alias, key_description=description, key_spec=spec, key_usage=usage
        )
        return (client or self.kms).create_key(CreateKeyRequest(body=body))

    def describe(self, key_id, client=None):
        return (client or self.kms).list_key_detail(ListKeyDetailRequest(body=key_body(key_id)))

    def encrypt(self, key_id, text, aad=None, client=None, algorithm=None):
        body = EncryptDataRequestBody(
            key_id=key_id, plain_text=text, additional_authenticated_data=aad,
            encryption_algorithm=algorithm,
        )
        return (client or self.kms).encrypt_data(EncryptDataRequest(body=body))

    def decrypt(self, cipher_text, key_id=None, aad=None, client=None, algorithm=None):
        body = DecryptDataRequestBody(
            cipher_text=cipher_text, key_id=key_id, additional_authenticated_data=aad,
            encryption_algorithm=algorithm,
        )
        return (client or self.kms).decrypt_data(DecryptDataRequest(body=body))

    def sign(self, key_id, message, algorithm, message_type=None):
        body = SignRequestBody(
            key_id=key_id, message=b64(message), signing_algorithm=algorithm, message_type=message_type
        )
        return self.kms.sign(SignRequest(body=body))

    def verify(self, key_id, message, signature, algorithm, message_type=None):
        body = VerifyRequestBody(
            key_id=key_id, message=b64(message), signature=signature,
            signing_algorithm=algorithm, message_type=message_type,
        )
        return self.kms.validate_signature(ValidateSignatureRequest(body=body))

    def public_key(self, key_id):
        return self.kms.show_public_key(ShowPublicKeyRequest(body=key_body(key_id)))

    def rotation_status(self, key_id, client=None):
        return (client or self.kms).show_key_rotation_status(
            ShowKeyRotationStatusRequest(body=key_body(key_id))
        )


@section
def lifecycle(env):
    kms = env.kms
    alias = f"hw-life-{RUN}"
    created = env.create_key(alias, description="lifecycle key")
    key_id = created.key_info.key_id
    info = raw(created)["key_info"]
    check(
        "create-key returns a 36-character lowercase UUID",
        len(key_id) == 36 and key_id == key_id.lower() and key_id.count("-") == 4,
        key_id,
    )
    check(
        "create-key key_info: key_id, domain_id, region_id as strings",
        all_strings(info) and info.get("region_id") == EAST,
        info,
    )
    described = env.describe(key_id)
    details = raw(described)["key_info"]
    check("describe-key: every KeyDetails field is a JSON string", all_strings(details), details)
    check(
        "describe-key: state, alias, realm, spec, usage, description, origin",
        details["key_state"] == "2"
        and details["key_alias"] == alias
        and details["realm"] == EAST
        and details["key_spec"] == "AES_256"
        and details["key_usage"] == "ENCRYPT_DECRYPT"
        and details["key_description"] == "lifecycle key"
        and details["origin"] == "kms"
        and details["key_rotation_enabled"] == "false"
        and details["scheduled_deletion_date"] == ""
        and details["creation_date"].isdigit(),
        details,
    )

    second = env.create_key(f"hw-life2-{RUN}").key_info.key_id
    first_page = kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(limit="1")))
    page = raw(first_page)
    check(
        "list-keys limit 1: truncated \"true\" (a string), total an int, next_marker a string",
        page["truncated"] == "true"
        and isinstance(page["total"], int)
        and page["total"] >= 2
        and isinstance(page["next_marker"], str)
        and len(page["keys"]) == 1
        and len(page["key_details"]) == 1,
        page,
    )
    listed = list(page["keys"])
    marker = page["next_marker"]
    while marker:
        more = raw(
            kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(limit="1", marker=marker)))
        )
        listed += more["keys"]
        marker = more.get("next_marker") if more["truncated"] == "true" else None
    check(
        "list-keys pages through every key",
        key_id in listed and second in listed and len(listed) == page["total"],
        listed,
    )
    enabled = raw(kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_state="2"))))
    disabled = raw(kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_state="3"))))
    check(
        "list-keys filters by key_state",
        key_id in enabled["keys"]
        and key_id not in disabled["keys"]
        and enabled["truncated"] == "false",
        (enabled, disabled),
    )

    sm4 = raw(kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_spec="SM4"))))
    check("list-keys key_spec SM4: no keys (none is ever made here)", sm4["keys"] == [] and sm4["total"] == 0, sm4)
    refused(
        lambda: kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_spec="AES_512"))),
        400,
        "KMS.0308",
        "list-keys key_spec AES_512 (no such spec): KMS.0308, not an empty list",
    )

    off = kms.disable_key(DisableKeyRequest(body=key_body(key_id)))
    check(
        "disable-key: key_info.key_state \"3\"",
        raw(off)["key_info"] == {"key_id": key_id, "key_state": "3"},
        raw(off),
    )
    refused(lambda: env.encrypt(key_id, "x"), 400, "KMS.0209", "encrypt-data with a disabled key: KMS.0209")
    refused(
        lambda: kms.disable_key(DisableKeyRequest(body=key_body(key_id))),
        400,
        "KMS.1301",
        "disable-key of a disabled key: KMS.1301 (only an enabled key can be disabled)",
    )
    on = kms.enable_key(EnableKeyRequest(body=key_body(key_id)))
    check("enable-key: key_state \"2\"", raw(on)["key_info"]["key_state"] == "2", raw(on))
    refused(
        lambda: kms.enable_key(EnableKeyRequest(body=key_body(key_id))),
        400,
        "KMS.1201",
        "enable-key of an enabled key: KMS.1201 (only a disabled key can be enabled)",
    )
    check(
        "the refused enable-key and disable-key left the key enabled",
        raw(env.describe(key_id))["key_info"]["key_state"] == "2",
    )

    new_alias = f"hw-life-renamed-{RUN}"
    renamed = kms.update_key_alias(
        UpdateKeyAliasRequest(body=UpdateKeyAliasRequestBody(key_id=key_id, key_alias=new_alias))
    )
    check(
        "update-key-alias",
        raw(renamed)["key_info"] == {"key_id": key_id, "key_alias": new_alias}
        and env.describe(key_id).key_info.key_alias == new_alias,
        raw(renamed),
    )
    refused(
        lambda: env.create_key(new_alias), 400, "KMS.1104", "create-key with an alias in use: KMS.1104"
    )
    refused(
        lambda: env.create_key("bad alias!"), 400, "KMS.1101", "create-key with an invalid alias: KMS.1101"
    )
    described = kms.update_key_description(
        UpdateKeyDescriptionRequest(
            body=UpdateKeyDescriptionRequestBody(key_id=key_id, key_description="changed")
        )
    )
    check(
        "update-key-description",
        raw(described)["key_info"]["key_description"] == "changed"
        and env.describe(key_id).key_info.key_description == "changed",
        raw(described),
    )

    refused(
        lambda: kms.delete_key(
            DeleteKeyRequest(body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="3"))
        ),
        400,
        "KMS.1401",
        "schedule-key-deletion with 3 days: KMS.1401",
    )
    refused(
        lambda: kms.delete_key(
            DeleteKeyRequest(body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="1097"))
        ),
        400,
        "KMS.1401",
        "schedule-key-deletion with 1097 days: KMS.1401",
    )
    longest = kms.delete_key(
        DeleteKeyRequest(body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="1096"))
    )
    long_pending = raw(env.describe(key_id))["key_info"]
    check(
        "schedule-key-deletion with 1096 days (Huawei's longest): accepted, deletion ~1096 days away",
        raw(longest)["key_state"] == "4"
        and abs(int(long_pending["scheduled_deletion_date"]) / 1000 - time.time() - 1096 * 86400) < 3600,
        long_pending,
    )
    kms.cancel_key_deletion(CancelKeyDeletionRequest(body=key_body(key_id)))
    kms.enable_key(EnableKeyRequest(body=key_body(key_id)))
    scheduled = kms.delete_key(
        DeleteKeyRequest(body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="7"))
    )
    check(
        "schedule-key-deletion: key_state \"4\"",
        raw(scheduled) == {"key_id": key_id, "key_state": "4"},
        raw(scheduled),
    )
    pending = raw(env.describe(key_id))["key_info"]
    check(
        "describe-key while pending deletion: state \"4\" and a deletion date",
        pending["key_state"] == "4" and pending["scheduled_deletion_date"].isdigit(),
        pending,
    )
    refused(lambda: env.encrypt(key_id, "x"), 400, "KMS.0210", "encrypt-data while pending deletion: KMS.0210")
    cancelled = kms.cancel_key_deletion(CancelKeyDeletionRequest(body=key_body(key_id)))
    check(
        "cancel-key-deletion: key_state \"3\"",
        raw(cancelled) == {"key_id": key_id, "key_state": "3"},
        raw(cancelled),
    )
    refused(
        lambda: kms.cancel_key_deletion(CancelKeyDeletionRequest(body=key_body(key_id))),
        400,
        "KMS.1501",
        "cancel-key-deletion of a key not pending deletion: KMS.1501",
    )
    kms.enable_key(EnableKeyRequest(body=key_body(key_id)))

    refused(
        lambda: env.describe(str(uuid.uuid4())), 404, "KMS.0207", "describe-key of an unknown key: 404 KMS.0207"
    )
    refused(lambda: env.describe("not-a-key"), 400, "KMS.0205", "describe-key with a malformed key id: KMS.0205")
    refused(
        lambda: kms.list_key_detail(ListKeyDetailRequest(body=OperateKeyRequestBody())),
        400,
        "KMS.0204",
        "describe-key without key_id: KMS.0204",
    )
    return key_id


@section
def data_encryption(env, key_id):
    other = env.create_key(f"hw-other-{RUN}").key_info.key_id
    sealed = env.encrypt(key_id, "hello huawei")
    body = raw(sealed)
    check(
        "encrypt-data: base64 cipher_text and the key id",
        body["key_id"] == key_id and base64.b64decode(body["cipher_text"]) != b"",
        body,
    )
    opened = env.decrypt(sealed.cipher_text)
    check(
        "decrypt-data: plain_text and plain_text_base64",
        raw(opened)
        == {
            "key_id": key_id,
            "plain_text": "hello huawei",
            "plain_text_base64": base64.b64encode(b"hello huawei").decode(),
        },
        raw(opened),
    )
    check(
        "decrypt-data naming the right key",
        env.decrypt(sealed.cipher_text, key_id=key_id).plain_text == "hello huawei",
    )
    refused(
        lambda: env.decrypt(sealed.cipher_text, key_id=other),
        400,
        "KMS.0205",
        "decrypt-data naming another key: KMS.0205",
    )
    with_aad = env.encrypt(key_id, "bound", aad="tenant-a")
    refused(
        lambda: env.decrypt(with_aad.cipher_text),
        400,
        "KMS.2201",
        "decrypt-data without the AAD it was sealed with: KMS.2201",
    )
    check(
        "decrypt-data with the AAD",
        env.decrypt(with_aad.cipher_text, aad="tenant-a").plain_text == "bound",
    )
    refused(
        lambda: env.decrypt("AAAA" * 40),
        400,
        "KMS.2201",
        "decrypt-data of garbage: KMS.2201",
    )


@section
def data_keys(env, key_id):
    kms = env.kms
    made = kms.create_datakey(CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id)))
    body = raw(made)
    check(
        "create-datakey: 256-bit default, hex plain_text and cipher_text",
        body["key_id"] == key_id
        and len(body["plain_text"]) == 64
        and bytes.fromhex(body["cipher_text"]) != b"",
        body,
    )
    long_key = raw(
        kms.create_datakey(
            CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id, datakey_length="512"))
        )
    )
    check("create-datakey datakey_length \"512\": 64 bytes", len(long_key["plain_text"]) == 128, long_key)
    aes128 = raw(
        kms.create_datakey(
            CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id, key_spec="AES_128"))
        )
    )
    check("create-datakey key_spec AES_128: 16 bytes", len(aes128["plain_text"]) == 32, aes128)
    refused(
        lambda: kms.create_datakey(
            CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id, datakey_length="12"))
        ),
        400,
        "KMS.1901",
        "create-datakey with 12 bits: KMS.1901",
    )
    sealed_only = raw(
        kms.create_datakey_without_plaintext(
            CreateDatakeyWithoutPlaintextRequest(body=CreateDatakeyRequestBody(key_id=key_id))
        )
    )
    check(
        "create-datakey-without-plaintext: cipher_text only",
        set(sealed_only) == {"key_id", "cipher_text"},
        sealed_only,
    )
    opened = kms.decrypt_datakey(
        DecryptDatakeyRequest(
            body=DecryptDatakeyRequestBody(
                key_id=key_id, cipher_text=body["cipher_text"], datakey_cipher_length="32"
            )
        )
    )
    digest = hashlib.sha256(bytes.fromhex(body["plain_text"])).hexdigest()
    check(
        "decrypt-datakey: data_key, datakey_length \"32\" and its SHA-256",
        raw(opened)
        == {"data_key": body["plain_text"], "datakey_length": "32", "datakey_dgst": digest},
        raw(opened),
    )
    blind = kms.decrypt_datakey(
        DecryptDatakeyRequest(
            body=DecryptDatakeyRequestBody(
                key_id=key_id, cipher_text=sealed_only["cipher_text"], datakey_cipher_length="32"
            )
        )
    )
    check("decrypt-datakey of a plaintext-free data key", len(blind.data_key) == 64)

    dek = bytes(range(32))
    plain = dek.hex() + hashlib.sha256(dek).hexdigest()
    wrapped = kms.encrypt_datakey(
        EncryptDatakeyRequest(
            body=EncryptDatakeyRequestBody(key_id=key_id, plain_text=plain, datakey_plain_length="32")
        )
    )
    check(
        "encrypt-datakey: hex cipher_text and datakey_length \"32\"",
        raw(wrapped)["datakey_length"] == "32" and raw(wrapped)["key_id"] == key_id,
        raw(wrapped),
    )
    unwrapped = kms.decrypt_datakey(
        DecryptDatakeyRequest(
            body=DecryptDatakeyRequestBody(
                key_id=key_id, cipher_text=wrapped.cipher_text, datakey_cipher_length="32"
            )
        )
    )
    check("decrypt-datakey returns the encrypted data key", unwrapped.data_key == dek.hex())
    refused(
        lambda: kms.encrypt_datakey(
            EncryptDatakeyRequest(
                body=EncryptDatakeyRequestBody(
                    key_id=key_id, plain_text=dek.hex() + "00" * 32, datakey_plain_length="32"
                )
            )
        ),
        400,
        "KMS.2103",
        "encrypt-datakey with a wrong SHA-256: KMS.2103",
    )
    refused(
        lambda: kms.decrypt_datakey(
            DecryptDatakeyRequest(
                body=DecryptDatakeyRequestBody(
                    key_id=key_id, cipher_text=wrapped.cipher_text, datakey_cipher_length="16"
                )
            )
        ),
        400,
        "KMS.2202",
        "decrypt-datakey with the wrong length: KMS.2202",
    )
    random = raw(
        kms.create_random(CreateRandomRequest(body=GenRandomRequestBody(random_data_length="512")))
    )
    check("gen-random 512 bits: 64 hex-encoded bytes", len(bytes.fromhex(random["random_data"])) == 64, random)
    refused(
        lambda: kms.create_random(CreateRandomRequest(body=GenRandomRequestBody(random_data_length="7"))),
        400,
        "KMS.1801",
        "gen-random 7 bits: KMS.1801",
    )
    return body["cipher_text"]


@section
def hmac_keys(env, aes_key_id):
    body = CreateKeyRequestBody(
        key_alias=f"hw-hmac-{RUN}", key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC"
    )
    key_id = env.kms.create_key(CreateKeyRequest(body=body)).key_info.key_id
    details = raw(env.describe(key_id))["key_info"]
    check(
        "create-key HMAC_256: key_spec and key_usage",
        details["key_spec"] == "HMAC_256" and details["key_usage"] == "GENERATE_VERIFY_MAC",
        details,
    )
    message = base64.b64encode(b"hello mac").decode()

    def generate(key, algorithm="HMAC_SHA_256"):
        body = GenerateMacRequestBody(key_id=key, mac_algorithm=algorithm, message=message)
        return env.kms.generate_mac(GenerateMacRequest(body=body))

    def verify(mac, text=message):
        body = VerifyMacRequestBody(
            key_id=key_id, mac_algorithm="HMAC_SHA_256", message=text, mac=mac
        )
        return env.kms.verify_mac(VerifyMacRequest(body=body))

    made = generate(key_id)
    check(
        "generate-mac: a 32-byte MAC in hex, with the key id and algorithm",
        len(bytes.fromhex(made.mac)) == 32
        and made.key_id == key_id
        and made.mac_algorithm == "HMAC_SHA_256",
        raw(made),
    )
    check("generate-mac is deterministic", generate(key_id).mac == made.mac)
    check("verify-mac: mac_valid true", verify(made.mac).mac_valid is True, raw(verify(made.mac)))
    other = base64.b64encode(b"another message").decode()
    check(
        "verify-mac of another message: mac_valid false",
        verify(made.mac, other).mac_valid is False,
        raw(verify(made.mac, other)),
    )
    refused(lambda: generate(aes_key_id), 400, "KMS.0308", "generate-mac with an AES key: KMS.0308")
    refused(
        lambda: generate(key_id, "HMAC_SHA_512"),
        400,
        "KMS.0308",
        "generate-mac with another key spec's algorithm: KMS.0308",
    )


@section
def rotation(env):
    kms = env.kms
    key_id = env.create_key(f"hw-rot-{RUN}").key_info.key_id
    before = env.encrypt(key_id, "before rotation").cipher_text
    status = raw(env.rotation_status(key_id))
    check(
        "get-key-rotation-status: key_rotation_enabled false (a JSON boolean), ints",
        status["key_rotation_enabled"] is False
        and status["rotation_interval"] == 365
        and status["number_of_rotations"] == 0,
        status,
    )
    enabled = kms.enable_key_rotation(EnableKeyRotationRequest(body=key_body(key_id)))
    check("enable-key-rotation: 200", enabled.status_code == 200, enabled.status_code)
    status = raw(env.rotation_status(key_id))
    check("rotation status after enabling: true", status["key_rotation_enabled"] is True, status)
    check(
        "describe-key: key_rotation_enabled \"true\" (a string)",
        raw(env.describe(key_id))["key_info"]["key_rotation_enabled"] == "true",
    )
    kms.update_key_rotation_interval(
        UpdateKeyRotationIntervalRequest(
            body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=180)
        )
    )
    status = raw(env.rotation_status(key_id))
    check(
        "update-key-rotation-interval 180: rotation_interval 180 (a JSON integer)",
        status["rotation_interval"] == 180 and isinstance(status["rotation_interval"], int),
        status,
    )
    kms.update_key_rotation_interval(
        UpdateKeyRotationIntervalRequest(
            body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=30)
        )
    )
    status = raw(env.rotation_status(key_id))
    check(
        "update-key-rotation-interval 30 (Huawei's shortest): rotation_interval 30",
        status["rotation_interval"] == 30,
        status,
    )
    refused(
        lambda: kms.update_key_rotation_interval(
            UpdateKeyRotationIntervalRequest(
                body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=29)
            )
        ),
        400,
        "KMS.0308",
        "update-key-rotation-interval 29: KMS.0308",
    )
    refused(
        lambda: kms.update_key_rotation_interval(
            UpdateKeyRotationIntervalRequest(
                body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=500)
            )
        ),
        400,
        "KMS.0308",
        "update-key-rotation-interval 500: KMS.0308",
    )
    rotated = kms.rotate_on_demand(RotateOnDemandRequest(body=RotateOnDemandRequestBody(key_id=key_id)))
    check("rotate-on-demand returns the key id", raw(rotated) == {"key_id": key_id}, raw(rotated))
    status = raw(env.rotation_status(key_id))
    check(
        "rotation status: number_of_rotations 1, last_rotation_time a string",
        status["number_of_rotations"] == 1 and str(status.get("last_rotation_time", "")).isdigit(),
        status,
    )
    check(
        "data sealed before the rotation still decrypts",
        env.decrypt(before).plain_text == "before rotation",
    )
    kms.disable_key_rotation(DisableKeyRotationRequest(body=key_body(key_id)))
    status = raw(env.rotation_status(key_id))
    check("disable-key-rotation: false", status["key_rotation_enabled"] is False, status)
    refused(
        lambda: kms.update_key_rotation_interval(
            UpdateKeyRotationIntervalRequest(
                body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=200)
            )
        ),
        400,
        "KMS.0308",
        "update-key-rotation-interval with rotation off: KMS.0308",
    )


@section
def tags(env, key_id):
    kms = env.kms
    made = kms.create_kms_tag(
        CreateKmsTagRequest(key_id=key_id, body=CreateKmsTagRequestBody(tag=TagItem(key="env", value="prod")))
    )
    check("create tag: 204", made.status_code == 204, made.status_code)
    batch = kms.batch_create_kms_tags(
        BatchCreateKmsTagsRequest(
            key_id=key_id,
            body=BatchCreateKmsTagsRequestBody(
                action="create", tags=[TagItem(key="team", value="kms"), TagItem(key="cost", value="42")]
            ),
        )
    )
    check("batch create tags: 204", batch.status_code == 204, batch.status_code)
    shown = raw(kms.show_kms_tags(ShowKmsTagsRequest(key_id=key_id)))
    check(
        "show tags: tags and existTagsNum (an int)",
        sorted((t["key"], t["value"]) for t in shown["tags"])
        == [("cost", "42"), ("env", "prod"), ("team", "kms")]
        and shown["existTagsNum"] == 3,
        shown,
    )
    gone = kms.delete_tag(DeleteTagRequest(key_id=key_id, key="cost"))
    check("delete tag: 204", gone.status_code == 204, gone.status_code)
    kms.batch_create_kms_tags(
        BatchCreateKmsTagsRequest(
            key_id=key_id, body=BatchCreateKmsTagsRequestBody(action="delete", tags=[TagItem(key="team", value="kms")])
        )
    )
    shown = kms.show_kms_tags(ShowKmsTagsRequest(key_id=key_id))
    check(
        "tags after deleting two",
        [(t.key, t.value) for t in shown.tags] == [("env", "prod")] and shown.exist_tags_num == 1,
        raw(shown),
    )
    refused(
        lambda: kms.batch_create_kms_tags(
            BatchCreateKmsTagsRequest(key_id=key_id, body=BatchCreateKmsTagsRequestBody(action="create", tags=[]))
        ),
        400,
        "KMS.0401",
        "batch create with no tags: KMS.0401",
    )
    project = raw(kms.list_kms_tags(ListKmsTagsRequest()))
    check(
        "project tags: env with value prod",
        {"key": "env", "values": ["prod"]} in project["tags"],
        project,
    )
    found = raw(
        kms.list_kms_by_tags(
            ListKmsByTagsRequest(
                resource_instances="resource_instances",
                body=ListKmsByTagsRequestBody(
                    action="filter", limit="10", offset="0", tags=[Tag(key="env", values=["prod"])]
                ),
            )
        )
    )
    check(
        "resource_instances filter by tag finds the key",
        found["total_count"] >= 1
        and any(
            r["resource_id"] == key_id and r["resource_detail"]["key_id"] == key_id for r in found["resources"]
        ),
        found,
    )
    counted = raw(
        kms.list_kms_by_tags(
            ListKmsByTagsRequest(
                resource_instances="resource_instances",
                body=ListKmsByTagsRequestBody(action="count", tags=[Tag(key="env", values=["nowhere"])]),
            )
        )
    )
    check("resource_instances count with no match: 0", counted == {"total_count": 0}, counted)


@section
def multi_region(env):
    kms, west = env.kms, env.kms_west
    regions = raw(kms.list_support_regions(ListSupportRegionsRequest()))
    check("regions: both hosted regions", set(regions["regions"]) == {EAST, WEST}, regions)
    key_id = env.create_key(f"hw-mr-{RUN}", description="replicated").key_info.key_id
    replica_alias = f"hw-mr-replica-{RUN}"
    replicated = kms.replicate_key(
        ReplicateKeyRequest(
            key_id=key_id,
            body=ReplicateKeyRequestBody(
                key_id=key_id,
                replica_region=WEST,
                replica_project_id=env.west,
                key_alias=replica_alias,
                key_description="the replica",
            ),
        )
    )
    check(
        "replicate: the replica keeps the key id",
        raw(replicated) == {"key_id": key_id, "domain_id": raw(env.describe(key_id))["key_info"]["domain_id"], "region": WEST},
        raw(replicated),
    )
    in_east = raw(env.describe(key_id))["key_info"]
    in_west = raw(env.describe(key_id, client=west))["key_info"]
    check(
        "describe in both projects",
        in_east["realm"] == EAST
        and in_west["realm"] == WEST
        and in_west["key_state"] == "2"
        and in_west["key_alias"] == replica_alias
        and in_west["key_description"] == "the replica"
        and in_east["key_id"] == in_west["key_id"] == key_id,
        (in_east, in_west),
    )
    sealed = env.encrypt(key_id, "across regions")
    check(
        "sealed in one region, opened in the other",
        env.decrypt(sealed.cipher_text, client=west).plain_text == "across regions",
    )
    refused(
        lambda: kms.replicate_key(
            ReplicateKeyRequest(key_id=key_id, body=ReplicateKeyRequestBody(key_id=key_id, replica_region=WEST))
        ),
        400,
        "KMS.0308",
        "replicate into a region that has a copy: KMS.0308",
    )
    moved = kms.update_primary_region(
        UpdatePrimaryRegionRequest(
            key_id=key_id, body=UpdatePrimaryRegionRequestBody(key_id=key_id, primary_region=WEST)
        )
    )
    check(
        "update-primary-region: {key_id, primary_region}",
        raw(moved) == {"key_id": key_id, "primary_region": WEST},
        raw(moved),
    )
    took = rotates_within_a_second(west, key_id)
    check(
        "within a second of update-primary-region the new primary (us-west-2) rotates",
        took is not None,
        "it did not",
    )
    print(f"    switched to {WEST} in {took}")
    refused(
        lambda: kms.rotate_on_demand(RotateOnDemandRequest(body=RotateOnDemandRequestBody(key_id=key_id))),
        400,
        "KMS.0308",
        "the former primary is a replica now: rotate-on-demand refused",
    )
    back = west.update_primary_region(
        UpdatePrimaryRegionRequest(
            key_id=key_id, body=UpdatePrimaryRegionRequestBody(key_id=key_id, primary_region=EAST)
        )
    )
    check(
        "update-primary-region back, from the new primary right away: {key_id, primary_region}",
        raw(back) == {"key_id": key_id, "primary_region": EAST},
        raw(back),
    )
    took = rotates_within_a_second(kms, key_id)
    check(
        "within a second of switching back the us-east-1 copy is primary again and rotates",
        took is not None,
        "it did not",
    )
    print(f"    switched back to {EAST} in {took}")
    refused(
        lambda: west.rotate_on_demand(RotateOnDemandRequest(body=RotateOnDemandRequestBody(key_id=key_id))),
        400,
        "KMS.0308",
        "the us-west-2 copy is a replica again: rotate-on-demand refused",
    )
    check(
        "both copies still describe as enabled",
        env.describe(key_id).key_info.key_state == "2"
        and env.describe(key_id, client=west).key_info.key_state == "2",
    )
    return key_id


def rotates_within_a_second(client, key_id):
    """Polls rotate-on-demand through `client` until it succeeds, which it
    does once that project's copy is the primary and no longer updating;
    returns the seconds it took, or None if not within a second."""
    start = time.monotonic()
    while True:
        try:
            client.rotate_on_demand(RotateOnDemandRequest(body=RotateOnDemandRequestBody(key_id=key_id)))
            return round(time.monotonic() - start, 3)
        except exceptions.ClientRequestException as e:
            if e.error_code != "KMS.0308" or time.monotonic() - start > 1:
                return None
            time.sleep(0.02)


@section
def cross_dialect(env, out):
    spec = env.spec
    aws_id = spec["aws_key_id"]
    described = raw(env.describe(aws_id))["key_info"]
    check(
        "a key made through the AWS dialect describes here under the same id",
        described["key_id"] == aws_id and described["key_state"] == "2",
        described,
    )
    opened = env.decrypt(spec["aws_ciphertext"])
    check(
        "AWS Encrypt output decrypts with decrypt-data",
        opened.plain_text == spec["aws_plaintext"] and opened.key_id == aws_id,
        raw(opened),
    )
    out["aws_key_sealed_here"] = env.encrypt(aws_id, "sealed by huawei").cipher_text
    key_id = env.create_key(f"hw-cross-{RUN}").key_info.key_id
    out["huawei_key_id"] = key_id
    out["huawei_ciphertext"] = env.encrypt(key_id, "huawei to aws").cipher_text
    out["huawei_aad_ciphertext"] = env.encrypt(key_id, "with aad", aad="tenant-a").cipher_text
    made = env.kms.create_datakey(CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id)))
    out["huawei_datakey_plain"] = made.plain_text
    out["huawei_datakey_cipher"] = made.cipher_text


def signed_request(env, ak, sk, path, body, project, date=None):
    """Headers for `body` signed with the SDK's own signer."""
    host = env.endpoint.split("://", 1)[1]
    headers = {"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": project}
    if date:
        headers["X-Sdk-Date"] = date
    request = SdkRequest(
        method="POST", schema="http", host=host, resource_path=path,
        query_params=[], header_params=headers, body=body,
    )
    Signer(BasicCredentials(ak, sk)).sign(request)
    return request.header_params


def huawei_error(response, status, code):
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        response.status_code == status
        and set(body) == {"error"}
        and body["error"].get("error_code") == code
        and isinstance(body["error"].get("error_msg"), str)
    )


@section
def refusals(env, key_id):
    ak, sk = env.spec["root"]
    refused(
        lambda: env.describe(key_id, client=env.client(env.east, (ak, sk + "x"))),
        401,
        "KMS.0301",
        "a wrong secret key (bad signature): 401 KMS.0301",
    )
    refused(
        lambda: env.describe(key_id, client=env.client(env.east, ("HWUNKNOWNAK000000000", sk))),
        401,
        "KMS.0301",
        "an unknown AK: 401 KMS.0301",
    )
    path = f"/v1.0/{env.east}/kms/describe-key"
    body = json.dumps({"key_id": key_id})
    headers = signed_request(env, ak, sk, path, body, env.east)
    ok = requests.post(env.endpoint + path, data=body, headers=headers, timeout=30)
    check("a request signed by the SDK signer is accepted", ok.status_code == 200, ok.text)
    tampered = requests.post(
        env.endpoint + path, data=json.dumps({"key_id": str(uuid.uuid4())}), headers=headers, timeout=30
    )
    check(
        "a body changed after signing: 401 with Huawei's error body",
        huawei_error(tampered, 401, "KMS.0301"),
        (tampered.status_code, tampered.text),
    )
    stale = (datetime.datetime.utcnow() - datetime.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    old = requests.post(
        env.endpoint + path, data=body, headers=signed_request(env, ak, sk, path, body, env.east, stale), timeout=30
    )
    check("X-Sdk-Date 20 minutes old: 401 KMS.0303", huawei_error(old, 401, "KMS.0303"), (old.status_code, old.text))
    for minutes, accepted in ((6, False), (-6, False), (4, True), (-4, True)):
        date = (datetime.datetime.utcnow() - datetime.timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%SZ")
        answer = requests.post(
            env.endpoint + path, data=body, headers=signed_request(env, ak, sk, path, body, env.east, date), timeout=30
        )
        when = f"{abs(minutes)} minutes {'behind' if minutes > 0 else 'ahead of'} the server"
        if accepted:
            check(f"X-Sdk-Date {when}: accepted", answer.status_code == 200, answer.text)
        else:
            check(
                f"X-Sdk-Date {when}: 401 KMS.0303 (SigV4's 5-minute window)",
                huawei_error(answer, 401, "KMS.0303"),
                (answer.status_code, answer.text),
            )
    west_path = f"/v1.0/{env.west}/kms/describe-key"
    mixed = requests.post(
        env.endpoint + west_path,
        data=body,
        headers=signed_request(env, ak, sk, west_path, body, env.east),
        timeout=30,
    )
    check(
        "X-Project-Id naming another project than the path: 400 KMS.0308",
        huawei_error(mixed, 400, "KMS.0308"),
        (mixed.status_code, mixed.text),
    )
    plain = {"Content-Type": "application/json;charset=UTF-8"}
    bad = requests.post(
        env.endpoint + path, data=body, headers={**plain, "X-Auth-Token": "not-a-token"}, timeout=30
    )
    check("a bad X-Auth-Token: 401 KMS.0302", huawei_error(bad, 401, "KMS.0302"), (bad.status_code, bad.text))
    none = requests.post(env.endpoint + path, data=body, headers=plain, timeout=30)
    check("no credentials: 401 KMS.0301", huawei_error(none, 401, "KMS.0301"), (none.status_code, none.text))
    good = requests.post(
        env.endpoint + path, data=body, headers={**plain, "X-Auth-Token": env.spec["token"]}, timeout=30
    )
    check(
        "a configured X-Auth-Token is accepted",
        good.status_code == 200 and good.json()["key_info"]["key_id"] == key_id,
        (good.status_code, good.text),
    )
    elsewhere = requests.post(
        env.endpoint + west_path, data=body, headers={**plain, "X-Auth-Token": env.spec["token"]}, timeout=30
    )
    check(
        "the X-Auth-Token against another project than its own: 401 KMS.0302",
        huawei_error(elsewhere, 401, "KMS.0302"),
        (elsewhere.status_code, elsewhere.text),
    )
    unknown_path = "/v1.0/0000000000000000000000000000000f/kms/describe-key"
    unknown = requests.post(
        env.endpoint + unknown_path,
        data=body,
        headers=signed_request(env, ak, sk, unknown_path, body, "0000000000000000000000000000000f"),
        timeout=30,
    )
    check("an unknown project: 404 KMS.0201", huawei_error(unknown, 404, "KMS.0201"), unknown.text)
    nowhere = requests.post(
        env.endpoint + f"/v1.0/{env.east}/kms/no-such-api",
        data=body,
        headers={**plain, "X-Auth-Token": env.spec["token"]},
        timeout=30,
    )
    check("an unknown API: 404 KMS.0201", huawei_error(nowhere, 404, "KMS.0201"), nowhere.text)
    broken = requests.post(
        env.endpoint + path, data="{not json", headers={**plain, "X-Auth-Token": env.spec["token"]}, timeout=30
    )
    check("a body that is not JSON: 400 KMS.0202", huawei_error(broken, 400, "KMS.0202"), broken.text)

    reader = env.client(env.east, env.spec["reader"])
    check(
        "a principal whose identity policy allows DescribeKey describes",
        env.describe(key_id, client=reader).key_info.key_id == key_id,
    )
    refused(
        lambda: env.encrypt(key_id, "x", client=reader),
        403,
        "KMS.0306",
        "the same principal may not encrypt: 403 KMS.0306",
    )


RSA_OID = bytes.fromhex("06092a864886f70d010101")  # rsaEncryption
EC_OID = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey


def pem_body(text):
    """The DER inside PEM `PUBLIC KEY` text with CRLF line ends and lines of
    64 base64 characters, as Huawei's get-publickey example shows; None for
    other text."""
    lines = text.split("\r\n")
    framed = (
        len(lines) > 3
        and lines[0] == "-----BEGIN PUBLIC KEY-----"
        and lines[-2] == "-----END PUBLIC KEY-----"
        and lines[-1] == ""
        and all(len(line) == 64 for line in lines[1:-3])
        and 0 < len(lines[-3]) <= 64
    )
    return base64.b64decode("".join(lines[1:-2])) if framed else None


def der_sequence(der):
    """Whether `der` is one DER SEQUENCE spanning all its bytes."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    if der[1] < 0x80:
        return 2 + der[1] == len(der)
    n = der[1] & 0x7F
    return 2 + n + int.from_bytes(der[2 : 2 + n], "big") == len(der)


def spki_of(der, kind):
    """Whether `der` is a SubjectPublicKeyInfo of `kind` ("rsa" or "ec"):
    parsed by `cryptography` when it is installed, else checked structurally
    (one DER SEQUENCE holding the algorithm's OID)."""
    if serialization:
        key = serialization.load_der_public_key(der)
        return isinstance(key, rsa.RSAPublicKey if kind == "rsa" else ec.EllipticCurvePublicKey)
    return der_sequence(der) and (RSA_OID if kind == "rsa" else EC_OID) in der


def pkcs8_matches(private_der, public_der):
    """Whether `private_der` is the PKCS#8 private key of the SPKI
    `public_der`: compared by `cryptography` when installed, else checked
    structurally (a DER SEQUENCE)."""
    if serialization:
        private = serialization.load_der_private_key(private_der, password=None)
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return spki == public_der
    return der_sequence(private_der)


@section
def asymmetric_signing(env, aes_key_id, out):
    if not serialization:
        print("    (cryptography is not installed: keys are checked structurally, not offline)")
    keys = {}
    for spec, usage in (("RSA_2048", "SIGN_VERIFY"), ("EC_P256", None), ("EC_P384", None), ("SECP256K1", None)):
        key_id = env.create_key(f"hw-sign-{spec.lower()}-{RUN}", spec=spec, usage=usage).key_info.key_id
        details = raw(env.describe(key_id))["key_info"]
        check(
            f"create-key {spec}: key_spec {spec}, key_usage SIGN_VERIFY"
            + ("" if usage else " (the default for asymmetric keys)"),
            details["key_spec"] == spec and details["key_usage"] == "SIGN_VERIFY" and all_strings(details),
            details,
        )
        keys[spec] = key_id
    refused(
        lambda: env.create_key(f"hw-p521-{RUN}", spec="EC_P521"),
        400, "KMS.0308", "create-key EC_P521 (not in Huawei's key_spec enum): KMS.0308",
    )
    bad_usage = refused(
        lambda: env.create_key(f"hw-ec-enc-{RUN}", spec="EC_P256", usage="ENCRYPT_DECRYPT"),
        400, "KMS.0308", "create-key EC_P256 with ENCRYPT_DECRYPT: KMS.0308",
    )
    check(
        "  ... its message names key_usage and Huawei's EC_P256",
        bad_usage is not None and "key_usage" in bad_usage.error_msg and "EC_P256" in bad_usage.error_msg,
        bad_usage and bad_usage.error_msg,
    )
    refused(
        lambda: env.create_key(f"hw-rsa-ka-{RUN}", spec="RSA_2048", usage="KEY_AGREEMENT"),
        400, "KMS.0308", "create-key with key_usage KEY_AGREEMENT (not Huawei's): KMS.0308",
    )

    rsa_key = keys["RSA_2048"]
    message = b"a message for huawei's sign"
    digest = hashlib.sha256(message).digest()
    signed = env.sign(rsa_key, digest, "RSASSA_PSS_SHA_256")
    body = raw(signed)
    check(
        "sign (message_type DIGEST by default): {key_id, signature}, a 256-byte signature in base64",
        set(body) == {"key_id", "signature"}
        and body["key_id"] == rsa_key
        and len(base64.b64decode(body["signature"])) == 256,
        body,
    )
    valid = env.verify(rsa_key, digest, signed.signature, "RSASSA_PSS_SHA_256")
    check(
        "verify: signature_valid \"true\" (a string)",
        raw(valid) == {"key_id": rsa_key, "signature_valid": "true"},
        raw(valid),
    )
    tampered = env.verify(rsa_key, hashlib.sha256(message + b"!").digest(), signed.signature, "RSASSA_PSS_SHA_256")
    check(
        "verify of a tampered message: signature_valid \"false\", not an error",
        raw(tampered) == {"key_id": rsa_key, "signature_valid": "false"},
        raw(tampered),
    )
    raw_signed = env.sign(rsa_key, message, "RSASSA_PKCS1_V1_5_SHA_256", message_type="RAW")
    check(
        "sign RAW, verify as the DIGEST of the message: true",
        env.verify(rsa_key, digest, raw_signed.signature, "RSASSA_PKCS1_V1_5_SHA_256").signature_valid == "true",
    )
    check(
        "verify RAW: true",
        env.verify(rsa_key, message, raw_signed.signature, "RSASSA_PKCS1_V1_5_SHA_256", "RAW").signature_valid
        == "true",
    )
    short = refused(
        lambda: env.sign(rsa_key, message, "RSASSA_PSS_SHA_256"),
        400, "KMS.0308", "sign a message that is no digest, without message_type: KMS.0308",
    )
    check(
        "  ... its message names message and message_type",
        short is not None and "message" in short.error_msg and "message_type" in short.error_msg,
        short and short.error_msg,
    )
    refused(
        lambda: env.sign(rsa_key, digest, "ECDSA_SHA_256"),
        400, "KMS.0308", "sign with an algorithm the key does not offer: KMS.0308",
    )
    refused(
        lambda: env.sign(aes_key_id, digest, "RSASSA_PSS_SHA_256"),
        400, "KMS.0308", "sign with a symmetric key: KMS.0308",
    )

    pem = env.public_key(rsa_key)
    body = raw(pem)
    der = pem_body(body["public_key"])
    check(
        "get-publickey: {key_id, public_key}, PEM text with CRLF lines",
        set(body) == {"key_id", "public_key"} and body["key_id"] == rsa_key and der is not None,
        body,
    )
    check("get-publickey of RSA_2048: an RSA SubjectPublicKeyInfo", der is not None and spki_of(der, "rsa"))
    if serialization and der:
        public = serialization.load_pem_public_key(body["public_key"].encode())
        try:
            public.verify(
                base64.b64decode(signed.signature), digest,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                utils.Prehashed(hashes.SHA256()),
            )
            offline = public.key_size == 2048
        except Exception as e:  # InvalidSignature
            offline = repr(e)
        check("the PSS signature verifies offline with the public key", offline is True, offline)
    refused(
        lambda: env.public_key(aes_key_id), 400, "KMS.0308", "get-publickey of a symmetric key: KMS.0308"
    )

    for spec, algorithm, hash_ in (
        ("EC_P256", "ECDSA_SHA_256", hashlib.sha256),
        ("EC_P384", "ECDSA_SHA_384", hashlib.sha384),
        ("SECP256K1", "ECDSA_SHA_256", hashlib.sha256),
    ):
        key_id = keys[spec]
        ec_digest = hash_(message).digest()
        ec_signed = env.sign(key_id, ec_digest, algorithm)
        check(
            f"{spec}: {algorithm} signature verifies",
            env.verify(key_id, ec_digest, ec_signed.signature, algorithm).signature_valid == "true",
        )
        check(
            f"{spec}: a tampered digest does not (signature_valid \"false\")",
            env.verify(key_id, hash_(b"other").digest(), ec_signed.signature, algorithm).signature_valid
            == "false",
        )
        ec_der = pem_body(env.public_key(key_id).public_key)
        check(f"get-publickey of {spec}: an EC SubjectPublicKeyInfo", ec_der is not None and spki_of(ec_der, "ec"))
        if serialization and ec_der:
            chosen = hashes.SHA384() if hash_ is hashlib.sha384 else hashes.SHA256()
            try:
                serialization.load_der_public_key(ec_der).verify(
                    base64.b64decode(ec_signed.signature), ec_digest, ec.ECDSA(utils.Prehashed(chosen))
                )
                offline = True
            except Exception as e:  # InvalidSignature
                offline = repr(e)
            check(f"{spec}: the DER ECDSA signature verifies offline", offline is True, offline)
    out["huawei_signing_key_id"] = rsa_key
    out["huawei_signed_digest"] = b64(digest)
    out["huawei_signature"] = signed.signature


@section
def rsa_encryption(env):
    key_id = env.create_key(f"hw-rsa-enc-{RUN}", spec="RSA_3072", usage="ENCRYPT_DECRYPT").key_info.key_id
    details = raw(env.describe(key_id))["key_info"]
    check(
        "create-key RSA_3072 ENCRYPT_DECRYPT",
        details["key_spec"] == "RSA_3072" and details["key_usage"] == "ENCRYPT_DECRYPT",
        details,
    )
    # Data keys are sealed only under symmetric keys (a 500 before the fix).
    refused(
        lambda: env.kms.create_datakey(CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id))),
        400,
        "KMS.0308",
        "create-datakey under an RSA key: KMS.0308",
    )
    refused(
        lambda: env.kms.create_datakey_without_plaintext(
            CreateDatakeyWithoutPlaintextRequest(body=CreateDatakeyRequestBody(key_id=key_id))
        ),
        400,
        "KMS.0308",
        "create-datakey-without-plaintext under an RSA key: KMS.0308",
    )
    for algorithm in ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"):
        sealed = env.encrypt(key_id, "for rsa eyes only", algorithm=algorithm)
        body = raw(sealed)
        check(
            f"encrypt-data {algorithm}: a raw 384-byte RSA ciphertext in base64",
            body["key_id"] == key_id and len(base64.b64decode(body["cipher_text"])) == 384,
            body,
        )
        opened = env.decrypt(sealed.cipher_text, key_id=key_id, algorithm=algorithm)
        check(
            f"decrypt-data {algorithm} with key_id: the plaintext",
            raw(opened)
            == {
                "key_id": key_id,
                "plain_text": "for rsa eyes only",
                "plain_text_base64": b64(b"for rsa eyes only"),
            },
            raw(opened),
        )
    missing = refused(
        lambda: env.decrypt(sealed.cipher_text, algorithm="RSAES_OAEP_SHA_1"),
        400, "KMS.0204", "decrypt-data of an RSA ciphertext without key_id: KMS.0204",
    )
    check("  ... naming key_id", missing is not None and "key_id" in missing.error_msg, missing and missing.error_msg)
    aad = refused(
        lambda: env.encrypt(key_id, "x", aad="tenant-a", algorithm="RSAES_OAEP_SHA_256"),
        400, "KMS.0308", "encrypt-data with an RSA key and additional_authenticated_data: KMS.0308",
    )
    check(
        "  ... naming additional_authenticated_data",
        aad is not None and "additional_authenticated_data" in aad.error_msg,
        aad and aad.error_msg,
    )
    refused(
        lambda: env.encrypt(key_id, "x"),
        400, "KMS.0308", "encrypt-data with an RSA key and no encryption_algorithm: KMS.0308",
    )
    refused(
        lambda: env.encrypt(key_id, "x" * 319, algorithm="RSAES_OAEP_SHA_256"),
        400, "KMS.0308", "encrypt-data of more than RSA_3072 with OAEP SHA-256 takes: KMS.0308",
    )
    der = pem_body(env.public_key(key_id).public_key)
    check("get-publickey of RSA_3072 ENCRYPT_DECRYPT: an RSA SubjectPublicKeyInfo", der is not None and spki_of(der, "rsa"))
    if serialization and der:
        offline = serialization.load_der_public_key(der).encrypt(
            b"sealed offline",
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        opened = env.decrypt(b64(offline), key_id=key_id, algorithm="RSAES_OAEP_SHA_256")
        check(
            "a ciphertext made offline with the public key decrypts with decrypt-data",
            opened.plain_text == "sealed offline",
            raw(opened),
        )


@section
def data_key_pairs(env, signing_key_id):
    key_id = env.create_key(f"hw-pairs-{RUN}").key_info.key_id
    made = env.kms.create_rsa_datakey_pair(
        CreateRsaDatakeyPairRequest(
            body=CreateRsaDatakeyPairRequestBody(
                key_id=key_id, key_spec="RSA_2048", additional_authenticated_data="tenant-a"
            )
        )
    )
    body = raw(made)
    check(
        "create-rsa-datakey-pair RSA_2048: key_id, key_spec, public_key, private_key_cipher_text and "
        "private_key_plain_text (with_plain_text defaults to true), all strings",
        set(body) == {"key_id", "key_spec", "public_key", "private_key_cipher_text", "private_key_plain_text"}
        and all_strings(body)
        and body["key_id"] == key_id
        and body["key_spec"] == "RSA_2048",
        body and {k: v[:40] for k, v in body.items()},
    )
    public = base64.b64decode(made.public_key)
    private = base64.b64decode(made.private_key_plain_text)
    check("  ... public_key is a base64 RSA SubjectPublicKeyInfo", spki_of(public, "rsa"))
    check("  ... private_key_plain_text is its base64 PKCS#8 private key", pkcs8_matches(private, public))
    opened = env.decrypt(made.private_key_cipher_text, aad="tenant-a")
    check(
        "decrypt-data of private_key_cipher_text with the same AAD: plain_text_base64 is the private key",
        opened.plain_text_base64 == made.private_key_plain_text and opened.key_id == key_id,
        raw(opened) and raw(opened)["key_id"],
    )
    refused(
        lambda: env.decrypt(made.private_key_cipher_text),
        400, "KMS.2201", "decrypt-data of private_key_cipher_text without its AAD: KMS.2201",
    )
    without = env.kms.create_ec_datakey_pair(
        CreateEcDatakeyPairRequest(
            body=CreateEcDatakeyPairRequestBody(key_id=key_id, key_spec="ECC_NIST_P256", with_plain_text=False)
        )
    )
    body = raw(without)
    check(
        "create-ec-datakey-pair ECC_NIST_P256, with_plain_text false: no private_key_plain_text",
        set(body) == {"key_id", "key_spec", "public_key", "private_key_cipher_text"}
        and body["key_spec"] == "ECC_NIST_P256",
        body,
    )
    public = base64.b64decode(without.public_key)
    check("  ... public_key is a base64 EC SubjectPublicKeyInfo", spki_of(public, "ec"))
    private = base64.b64decode(env.decrypt(without.private_key_cipher_text).plain_text_base64)
    check(
        "decrypt-data of its private_key_cipher_text: the PKCS#8 private key of public_key",
        pkcs8_matches(private, public),
    )
    made = env.kms.create_ec_datakey_pair(
        CreateEcDatakeyPairRequest(body=CreateEcDatakeyPairRequestBody(key_id=key_id, key_spec="ECC_SECG_P256K1"))
    )
    check(
        "create-ec-datakey-pair ECC_SECG_P256K1: a matching key pair",
        made.key_spec == "ECC_SECG_P256K1"
        and pkcs8_matches(base64.b64decode(made.private_key_plain_text), base64.b64decode(made.public_key)),
    )
    refused(
        lambda: env.kms.create_rsa_datakey_pair(
            CreateRsaDatakeyPairRequest(
                body=CreateRsaDatakeyPairRequestBody(key_id=key_id, key_spec="ECC_NIST_P256")
            )
        ),
        400, "KMS.0308", "create-rsa-datakey-pair with an EC key_spec: KMS.0308",
    )
    refused(
        lambda: env.kms.create_ec_datakey_pair(
            CreateEcDatakeyPairRequest(
                body=CreateEcDatakeyPairRequestBody(key_id=signing_key_id, key_spec="ECC_NIST_P384")
            )
        ),
        400, "KMS.0308", "create-ec-datakey-pair under an asymmetric key: KMS.0308",
    )


def oaep_sha256_wrap(public_key_b64, material):
    """`material` RSA-OAEP (SHA-256, MGF1 SHA-256) encrypted under the base64
    DER public key, in base64: what a Huawei user does offline."""
    public = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return b64(public.encrypt(material, oaep))


@section
def imported_material(env, kms_key_id, out):
    if serialization is None:
        check("imported key material needs Python's cryptography package", False)
        return
    kms = env.kms

    def create_external(alias, spec=None, usage=None):
        body = CreateKeyRequestBody(key_alias=alias, key_spec=spec, key_usage=usage, origin="external")
        return kms.create_key(CreateKeyRequest(body=body)).key_info.key_id

    def parameters(key_id, algorithm="RSAES_OAEP_SHA_256"):
        body = GetParametersForImportRequestBody(key_id=key_id, wrapping_algorithm=algorithm)
        return kms.create_parameters_for_import(CreateParametersForImportRequest(body=body))

    def import_material(key_id, token, encrypted, expiration_time=None):
        body = ImportKeyMaterialRequestBody(
            key_id=key_id, import_token=token, encrypted_key_material=encrypted,
            expiration_time=expiration_time,
        )
        return kms.import_key_material(ImportKeyMaterialRequest(body=body))

    def wrap_and_import(key_id, material, expiration_time=None):
        got = parameters(key_id)
        return got, import_material(
            key_id, got.import_token, oaep_sha256_wrap(got.public_key, material), expiration_time
        )

    def delete_material(key_id):
        return kms.delete_imported_key_material(
            DeleteImportedKeyMaterialRequest(body=key_body(key_id))
        )

    key_id = create_external(f"hw-import-{RUN}")
    details = raw(env.describe(key_id))["key_info"]
    check(
        "create-key origin external: AES_256, origin \"external\", key_state \"5\" (pending import)",
        details["origin"] == "external" and details["key_state"] == "5"
        and details["key_spec"] == "AES_256" and details["expiration_time"] == "",
        details,
    )
    listed = raw(kms.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_state="5"))))
    check("list-keys key_state \"5\" lists it", key_id in listed["keys"], listed)
    refused(lambda: env.encrypt(key_id, "too early"), 400, "KMS.0308", "encrypt-data before any import: KMS.0308")

    got = parameters(key_id)
    body = raw(got)
    now = time.time()
    check(
        "get-parameters-for-import: key_id, import_token, expiration_time (a JSON integer) and "
        "public_key (strings)",
        set(body) == {"key_id", "import_token", "expiration_time", "public_key"}
        and body["key_id"] == key_id
        and isinstance(body["import_token"], str)
        and isinstance(body["public_key"], str)
        and isinstance(body["expiration_time"], int) and not isinstance(body["expiration_time"], bool),
        body,
    )
    check(
        "  ... expiration_time is in Unix seconds, 24 hours ahead",
        abs(body["expiration_time"] - (now + 86400)) < 120,
        body["expiration_time"],
    )
    public = serialization.load_der_public_key(base64.b64decode(got.public_key))
    check(
        "  ... public_key is a base64 DER RSA_2048 SubjectPublicKeyInfo",
        isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048,
        type(public),
    )
    material = os.urandom(32)
    encrypted = oaep_sha256_wrap(got.public_key, material)
    imported = import_material(key_id, got.import_token, encrypted)
    check(
        "import-key-material (RSAES_OAEP_SHA_256, no expiration_time): 200 without a body",
        imported.status_code == 200 and raw(imported) is None,
        (imported.status_code, imported.raw_content),
    )
    details = raw(env.describe(key_id))["key_info"]
    check(
        "  ... the key is enabled (key_state \"2\"), its material does not expire (expiration_time \"\")",
        details["key_state"] == "2" and details["expiration_time"] == "",
        details,
    )
    sealed = env.encrypt(key_id, "under imported material")
    opened = env.decrypt(sealed.cipher_text)
    check(
        "encrypt-data / decrypt-data round trip under the imported material",
        opened.plain_text == "under imported material" and opened.key_id == key_id,
        raw(opened),
    )
    refused(
        lambda: import_material(key_id, got.import_token, encrypted),
        400, "KMS.2605", "import-key-material with a used import_token: KMS.2605",
    )
    other = parameters(key_id)
    refused(
        lambda: import_material(key_id, other.import_token, oaep_sha256_wrap(other.public_key, os.urandom(32))),
        400, "KMS.2606", "import-key-material of different material: KMS.2606",
    )
    short = parameters(key_id)
    refused(
        lambda: import_material(key_id, short.import_token, oaep_sha256_wrap(short.public_key, os.urandom(16))),
        400, "KMS.2604", "import-key-material of 16 bytes into an AES_256 key: KMS.2604",
    )
    garbled = parameters(key_id)
    refused(
        lambda: import_material(key_id, garbled.import_token, b64(os.urandom(256))),
        400, "KMS.0311", "import-key-material that does not decrypt under the wrapping key: KMS.0311",
    )

    deleted = delete_material(key_id)
    check(
        "delete-imported-key-material: 200 without a body",
        deleted.status_code == 200 and raw(deleted) is None,
        (deleted.status_code, deleted.raw_content),
    )
    details = raw(env.describe(key_id))["key_info"]
    check("  ... the key is pending import again (key_state \"5\")", details["key_state"] == "5", details)
    refused(
        lambda: env.encrypt(key_id, "after deletion"), 400, "KMS.0308",
        "encrypt-data after the deletion: KMS.0308",
    )
    refused(
        lambda: env.decrypt(sealed.cipher_text), 400, "KMS.0308",
        "decrypt-data of an earlier ciphertext after the deletion: KMS.0308",
    )
    refused(
        lambda: delete_material(key_id), 400, "KMS.2701",
        "delete-imported-key-material of a key pending import: KMS.2701",
    )
    expires = int(time.time()) + 7 * 86400
    _, again = wrap_and_import(key_id, material, expires)
    details = raw(env.describe(key_id))["key_info"]
    check(
        "re-import of the same material with expiration_time (seconds): enabled, KeyDetails "
        "expiration_time in milliseconds",
        again.status_code == 200 and details["key_state"] == "2"
        and details["expiration_time"] == str(expires * 1000),
        details,
    )
    check(
        "  ... the ciphertext made before the deletion decrypts again",
        env.decrypt(sealed.cipher_text).plain_text == "under imported material",
    )
    out["imported_key_id"] = key_id
    out["imported_ciphertext"] = sealed.cipher_text
    out["imported_expiration_time"] = expires

    second = create_external(f"hw-import-b-{RUN}")
    theirs = parameters(key_id)
    refused(
        lambda: import_material(second, theirs.import_token, oaep_sha256_wrap(theirs.public_key, material)),
        400, "KMS.2603", "import-key-material with another key's import_token: KMS.2603",
    )
    past = parameters(second)
    refused(
        lambda: import_material(
            second, past.import_token, oaep_sha256_wrap(past.public_key, material), int(time.time()) - 60
        ),
        400, "KMS.2602", "import-key-material with an expiration_time in the past: KMS.2602",
    )
    refused(
        lambda: parameters(second, "SM2_ENCRYPT"), 400, "KMS.0308",
        "get-parameters-for-import wrapping_algorithm SM2_ENCRYPT: KMS.0308",
    )
    sha1 = parameters(second, "RSAES_OAEP_SHA_1")
    oaep1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    wrapped = b64(serialization.load_der_public_key(base64.b64decode(sha1.public_key)).encrypt(material, oaep1))
    import_material(second, sha1.import_token, wrapped)
    check(
        "the same material imported into a second key with RSAES_OAEP_SHA_1: the key is enabled",
        raw(env.describe(second))["key_info"]["key_state"] == "2",
    )
    refused(
        lambda: env.decrypt(sealed.cipher_text, key_id=second), 400, "KMS.0205",
        "the first key's ciphertext does not open under the second (same material, other key): KMS.0205",
    )
    refused(
        lambda: parameters(kms_key_id), 400, "KMS.0309",
        "get-parameters-for-import of a key with origin kms: KMS.0309",
    )
    refused(
        lambda: delete_material(kms_key_id), 400, "KMS.0309",
        "delete-imported-key-material of a key with origin kms: KMS.0309",
    )

    mac_key = create_external(f"hw-import-mac-{RUN}", "HMAC_256")
    mac_material = os.urandom(32)
    wrap_and_import(mac_key, mac_material)
    message = b"a message to MAC"
    made = kms.generate_mac(
        GenerateMacRequest(
            body=GenerateMacRequestBody(key_id=mac_key, mac_algorithm="HMAC_SHA_256", message=b64(message))
        )
    )
    check(
        "create-key origin external HMAC_256, import: generate-mac is the HMAC of the imported bytes",
        made.mac == hmac.new(mac_material, message, hashlib.sha256).hexdigest(),
        raw(made),
    )
    for spec in ("HMAC_384", "HMAC_512"):
        made_id = create_external(f"hw-import-{spec.lower()}-{RUN}", spec)
        details = raw(env.describe(made_id))["key_info"]
        check(
            f"create-key origin external {spec}: pending import, usage GENERATE_VERIFY_MAC",
            details["key_state"] == "5" and details["key_usage"] == "GENERATE_VERIFY_MAC",
            details,
        )


def der_private_key(private):
    """The PKCS#8 DER of a `cryptography` private key."""
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def der_public_key(private):
    """The DER SubjectPublicKeyInfo of a `cryptography` private key's public key."""
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def wrap_private_key(public_key_b64, private):
    """(encrypted_key_material, encrypted_privatekey) for an asymmetric key, as
    Huawei's model describes them: a temporary AES-256 key RSA-OAEP (SHA-256)
    encrypted under the base64 DER wrapping key, and the PKCS#8 private key
    wrapped under that temporary key with AES key wrap with padding (RFC 5649,
    OpenSSL's id-aes256-wrap-pad), both base64: what a Huawei user does
    offline."""
    from cryptography.hazmat.primitives import keywrap

    temporary = os.urandom(32)
    wrapped = keywrap.aes_key_wrap_with_padding(temporary, der_private_key(private))
    return oaep_sha256_wrap(public_key_b64, temporary), b64(wrapped)


@section
def imported_key_pairs(env):
    if serialization is None:
        check("imported key pairs need Python's cryptography package", False)
        return
    kms = env.kms

    def create_external(alias, spec):
        body = CreateKeyRequestBody(key_alias=alias, key_spec=spec, origin="external")
        return kms.create_key(CreateKeyRequest(body=body)).key_info.key_id

    def import_private_key(key_id, private, with_private_key=True, material=None):
        body = GetParametersForImportRequestBody(key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256")
        got = kms.create_parameters_for_import(CreateParametersForImportRequest(body=body))
        wrapped_key, wrapped_private = wrap_private_key(got.public_key, private)
        body = ImportKeyMaterialRequestBody(
            key_id=key_id, import_token=got.import_token,
            encrypted_key_material=material(got.public_key) if material else wrapped_key,
            encrypted_privatekey=wrapped_private if with_private_key else None,
        )
        return kms.import_key_material(ImportKeyMaterialRequest(body=body))

    message = b"signed with an imported private key"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    for spec, private, algorithm, chosen, scheme in (
        ("RSA_2048", rsa.generate_private_key(65537, 2048), "RSASSA_PSS_SHA_256", hashes.SHA256(), "rsa"),
        ("EC_P256", ec.generate_private_key(ec.SECP256R1()), "ECDSA_SHA_256", hashes.SHA256(), "ec"),
        ("EC_P384", ec.generate_private_key(ec.SECP384R1()), "ECDSA_SHA_384", hashes.SHA384(), "ec"),
        ("SECP256K1", ec.generate_private_key(ec.SECP256K1()), "ECDSA_SHA_256", hashes.SHA256(), "ec"),
    ):
        key_id = create_external(f"hw-import-{spec.lower()}-{RUN}", spec)
        details = raw(env.describe(key_id))["key_info"]
        check(
            f"create-key origin external {spec}: pending import (key_state \"5\"), SIGN_VERIFY",
            details["key_state"] == "5" and details["key_spec"] == spec
            and details["origin"] == "external" and details["key_usage"] == "SIGN_VERIFY",
            details,
        )
        imported = import_private_key(key_id, private)
        check(
            f"import-key-material of the {spec} private key (encrypted_key_material: the temporary "
            "AES key under RSAES_OAEP_SHA_256; encrypted_privatekey: the PKCS#8 under it): 200, enabled",
            imported.status_code == 200 and raw(imported) is None
            and raw(env.describe(key_id))["key_info"]["key_state"] == "2",
            (imported.status_code, imported.raw_content),
        )
        published = pem_body(env.public_key(key_id).public_key)
        check(f"  ... get-publickey is the local {spec} public key", published == der_public_key(private), published)
        digest = hashlib.new(chosen.name, message).digest()
        signed = env.sign(key_id, digest, algorithm)
        try:
            if scheme == "rsa":
                private.public_key().verify(
                    base64.b64decode(signed.signature), digest, pss, utils.Prehashed(chosen)
                )
            else:
                private.public_key().verify(
                    base64.b64decode(signed.signature), digest, ec.ECDSA(utils.Prehashed(chosen))
                )
            offline = True
        except Exception as e:  # InvalidSignature
            offline = repr(e)
        check(f"  ... sign ({algorithm}) verifies offline with the local public key", offline is True, offline)
        check(
            "  ... and verify agrees",
            env.verify(key_id, digest, signed.signature, algorithm).signature_valid == "true",
        )

    key_id = create_external(f"hw-import-ec-refusals-{RUN}", "EC_P256")
    private = ec.generate_private_key(ec.SECP256R1())
    refused(
        lambda: import_private_key(
            key_id, private, with_private_key=False,
            material=lambda public: oaep_sha256_wrap(public, der_private_key(private)),
        ),
        400, "KMS.0308", "import-key-material of an EC_P256 key without encrypted_privatekey: KMS.0308",
    )
    wrong = refused(
        lambda: import_private_key(key_id, ec.generate_private_key(ec.SECP384R1())),
        400, "KMS.2604", "import-key-material of a P-384 private key into an EC_P256 key: KMS.2604",
    )
    check(
        "  ... its message names EC_P256 and the key's curve",
        wrong is not None and "EC_P256" in wrong.error_msg and "P384" in wrong.error_msg,
        wrong and wrong.error_msg,
    )
    refused(
        lambda: import_private_key(key_id, rsa.generate_private_key(65537, 2048)),
        400, "KMS.2604", "import-key-material of an RSA private key into an EC_P256 key: KMS.2604",
    )
    aes_external = create_external(f"hw-import-aes-pk-{RUN}", "AES_256")
    refused(
        lambda: import_private_key(aes_external, private), 400, "KMS.0308",
        "import-key-material with encrypted_privatekey into an AES_256 key: KMS.0308",
    )
    import_private_key(key_id, private)
    kms.delete_imported_key_material(DeleteImportedKeyMaterialRequest(body=key_body(key_id)))
    refused(
        lambda: import_private_key(key_id, ec.generate_private_key(ec.SECP256R1())),
        400, "KMS.2606", "re-import of another EC_P256 private key after the deletion: KMS.2606",
    )
    import_private_key(key_id, private)
    check(
        "re-import of the same private key: enabled, the same public key",
        raw(env.describe(key_id))["key_info"]["key_state"] == "2"
        and pem_body(env.public_key(key_id).public_key) == der_public_key(private),
    )


def main():
    spec = json.load(sys.stdin)
    env = Env(spec)
    out = {}
    key_id = lifecycle(env)
    if key_id:
        data_encryption(env, key_id)
        data_keys(env, key_id)
        tags(env, key_id)
        refusals(env, key_id)
        hmac_keys(env, key_id)
        asymmetric_signing(env, key_id, out)
        data_key_pairs(env, out.get("huawei_signing_key_id", key_id))
        imported_material(env, key_id, out)
        imported_key_pairs(env)
    rsa_encryption(env)
    rotation(env)
    out["replicated_key_id"] = multi_region(env)
    cross_dialect(env, out)
    with open(spec["out"], "w") as f:
        json.dump(out, f)
    print(f"{PASSES} checks passed, {len(FAILURES)} failed")
    for name in FAILURES:
        print(f"  failed: {name}")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
