#!/usr/bin/env python3
"""Uses a dev-mode region's Huawei project with Huawei's official Python SDK
(huaweicloudsdkkms): describes a key, decrypts a ciphertext and lists the
regions. Run by tests/regions.rs, which passes on stdin

    {"endpoint": "http://127.0.0.1:PORT", "ak": "...", "sk": "...",
     "project": "<project id>", "key_id": "...", "ciphertext": "<base64>"}

and reads one JSON object on stdout:

    {"key_id": "...", "key_state": "2", "plaintext": "...",
     "regions": ["us-east-1", ...]}

Any failure raises (exit status 1, traceback on stderr).
"""

import json
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkkms.v2 import (
    DecryptDataRequest,
    DecryptDataRequestBody,
    KmsClient,
    ListKeyDetailRequest,
    ListSupportRegionsRequest,
    OperateKeyRequestBody,
)


def main():
    spec = json.load(sys.stdin)
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.timeout = (5, 60)
    kms = (
        KmsClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(spec["ak"], spec["sk"], spec["project"]))
        .with_endpoints([spec["endpoint"]])
        .build()
    )
    described = kms.list_key_detail(
        ListKeyDetailRequest(body=OperateKeyRequestBody(key_id=spec["key_id"]))
    ).key_info
    opened = kms.decrypt_data(
        DecryptDataRequest(body=DecryptDataRequestBody(cipher_text=spec["ciphertext"]))
    )
    regions = json.loads(kms.list_support_regions(ListSupportRegionsRequest()).raw_content)
    json.dump(
        {
            "key_id": described.key_id,
            "key_state": described.key_state,
            "plaintext": opened.plain_text,
            "regions": regions["regions"],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
