//! Helpers for imported key material (Origin EXTERNAL): creating the keys,
//! GetParametersForImport, wrapping material offline as AWS specifies, and
//! ImportKeyMaterial; the wrapping and the MACs are computed here with the
//! RustCrypto crates (`rsa`, `aes-kw`, `hmac`), never with Trent.
//!
//! AWS's wrapping formats (developer guide, "Step 3: Encrypt the key
//! material", and the API reference of GetParametersForImport):
//! `RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256` are RSA-OAEP of the material
//! under the returned public key (MGF1 with the same hash, empty label);
//! `RSA_AES_KEY_WRAP_SHA_1` / `_256` are RSA-OAEP of an ephemeral AES-256
//! key followed by the AES key wrap with padding (RFC 5649) of the material
//! under that key.
//!
//! AWS's texts recorded against AWS KMS by LocalStack
//! (`tests/aws/services/kms/test_kms.snapshot.json`, test_import_key_symmetric
//! and test_get_parameters_for_import): `KMSInvalidStateException` "<key
//! ARN> is pending import."; `ValidationException` "A validTo date must be
//! set if the ExpirationModel is KEY_MATERIAL_EXPIRES" (ImportKeyMaterial
//! with neither ExpirationModel nor ValidTo: AWS's default model is
//! KEY_MATERIAL_EXPIRES); `UnsupportedOperationException` "<key ARN> origin
//! is AWS_KMS which is not valid for this operation.".

use super::refusal;
use aws_sdk_kms::Client;
use aws_sdk_kms::operation::get_parameters_for_import::GetParametersForImportOutput;
use aws_sdk_kms::operation::import_key_material::ImportKeyMaterialOutput;
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, ImportType, KeyMetadata, KeySpec, KeyUsageType,
    MacAlgorithmSpec, OriginType, WrappingKeySpec,
};
use hmac::{Hmac, Mac};
use rsa::pkcs8::DecodePublicKey;
use rsa::rand_core::{OsRng, RngCore};
use rsa::{Oaep, RsaPublicKey};

/// A refusal's code and message.
pub type Refusal = (String, Option<String>);

/// The four wrapping algorithms AWS offers for symmetric and HMAC material.
pub const ALGORITHMS: [AlgorithmSpec; 4] = [
    AlgorithmSpec::RsaesOaepSha1,
    AlgorithmSpec::RsaesOaepSha256,
    AlgorithmSpec::RsaAesKeyWrapSha1,
    AlgorithmSpec::RsaAesKeyWrapSha256,
];

/// The HMAC specs, their MAC algorithms, and the lengths of imported
/// material AWS accepts for them (bytes, inclusive): from the digest length
/// to the hash's block size, as the developer guide's "Requirements for
/// imported key material" gives them (that page is not among the stored
/// copies the tests were written from: these are the values issue #14's
/// brief quotes from it).
pub const HMAC_SPECS: [(KeySpec, MacAlgorithmSpec, usize, usize); 4] = [
    (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28, 64),
    (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32, 64),
    (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48, 128),
    (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64, 128),
];

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// AWS's message for a cryptographic operation on a key without material.
pub fn pending_import(arn: &str) -> Refusal {
    (
        "KMSInvalidStateException".to_string(),
        Some(format!("{arn} is pending import.")),
    )
}

/// The usage an EXTERNAL key of `spec` is created with.
fn usage_of(spec: &KeySpec) -> KeyUsageType {
    match spec {
        KeySpec::SymmetricDefault => KeyUsageType::EncryptDecrypt,
        KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
            KeyUsageType::GenerateVerifyMac
        }
        _ => KeyUsageType::SignVerify,
    }
}

/// CreateKey with Origin EXTERNAL of `spec` (for a key pair, a signing
/// key), single- or multi-Region; CreateKey's metadata.
pub async fn create_external_metadata(
    kms: &Client,
    spec: KeySpec,
    multi_region: bool,
) -> KeyMetadata {
    let usage = usage_of(&spec);
    create_external_as(kms, spec, usage, multi_region).await
}

/// CreateKey with Origin EXTERNAL of `spec` and `usage`, single- or
/// multi-Region; CreateKey's metadata.
pub async fn create_external_as(
    kms: &Client,
    spec: KeySpec,
    usage: KeyUsageType,
    multi_region: bool,
) -> KeyMetadata {
    kms.create_key()
        .origin(OriginType::External)
        .key_spec(spec.clone())
        .key_usage(usage)
        .multi_region(multi_region)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateKey EXTERNAL {spec:?}: {e:?}"))
        .key_metadata
        .expect("key metadata")
}

/// A single-Region EXTERNAL key of `spec`; its id.
pub async fn create_external(kms: &Client, spec: KeySpec) -> String {
    create_external_metadata(kms, spec, false).await.key_id
}

/// DescribeKey's metadata.
pub async fn describe(kms: &Client, key: &str) -> KeyMetadata {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeKey {key}: {e:?}"))
        .key_metadata
        .expect("key metadata")
}

/// What GetParametersForImport returned.
pub struct Parameters {
    /// The algorithm asked for.
    pub algorithm: AlgorithmSpec,
    /// `KeyId` (the key's ARN).
    pub key_id: String,
    /// `ImportToken`.
    pub token: Vec<u8>,
    /// `PublicKey`: a DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// `ParametersValidTo`.
    pub valid_to: DateTime,
}

/// GetParametersForImport, raw.
pub async fn try_parameters(
    kms: &Client,
    key: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> Result<GetParametersForImportOutput, Refusal> {
    kms.get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(algorithm)
        .wrapping_key_spec(spec)
        .send()
        .await
        .map_err(|e| refusal::<_, ()>(Err(e)))
}

/// GetParametersForImport for `key` with `algorithm` and an RSA wrapping
/// key of `spec`; every field must be present.
pub async fn parameters_with(
    kms: &Client,
    key: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> Parameters {
    let out = try_parameters(kms, key, algorithm.clone(), spec.clone())
        .await
        .unwrap_or_else(|e| panic!("GetParametersForImport {key} {algorithm:?} {spec:?}: {e:?}"));
    Parameters {
        algorithm,
        key_id: out.key_id.expect("KeyId"),
        token: out.import_token.expect("ImportToken").into_inner(),
        public_key: out.public_key.expect("PublicKey").into_inner(),
        valid_to: out.parameters_valid_to.expect("ParametersValidTo"),
    }
}

/// GetParametersForImport with `algorithm` and an RSA_2048 wrapping key.
pub async fn parameters(kms: &Client, key: &str, algorithm: AlgorithmSpec) -> Parameters {
    parameters_with(kms, key, algorithm, WrappingKeySpec::Rsa2048).await
}

/// RSA-OAEP with SHA-256, or SHA-1 (MGF1 of the same hash, empty label),
/// of `data` under the DER SubjectPublicKeyInfo `public_key`.
fn oaep(public_key: &[u8], sha256: bool, data: &[u8]) -> Vec<u8> {
    let key = RsaPublicKey::from_public_key_der(public_key).expect("an RSA SubjectPublicKeyInfo");
    let padding = if sha256 {
        Oaep::new::<sha2::Sha256>()
    } else {
        Oaep::new::<sha1::Sha1>()
    };
    key.encrypt(&mut OsRng, padding, data).expect("RSA-OAEP")
}

/// `material` wrapped offline for `algorithm` under the DER
/// SubjectPublicKeyInfo `public_key`, as AWS specifies (see the module
/// documentation).
pub fn wrap(public_key: &[u8], algorithm: &AlgorithmSpec, material: &[u8]) -> Vec<u8> {
    match algorithm {
        AlgorithmSpec::RsaesOaepSha1 => oaep(public_key, false, material),
        AlgorithmSpec::RsaesOaepSha256 => oaep(public_key, true, material),
        AlgorithmSpec::RsaAesKeyWrapSha1 | AlgorithmSpec::RsaAesKeyWrapSha256 => {
            let mut ephemeral = [0u8; 32];
            OsRng.fill_bytes(&mut ephemeral);
            let sha256 = *algorithm == AlgorithmSpec::RsaAesKeyWrapSha256;
            let mut wrapped = oaep(public_key, sha256, &ephemeral);
            wrapped.extend(
                aes_kw::KekAes256::from(ephemeral)
                    .wrap_with_padding_vec(material)
                    .expect("AES-KWP"),
            );
            wrapped
        }
        other => panic!("no offline wrapping for {other:?}"),
    }
}

/// `material` wrapped for `parameters` (its public key and algorithm).
pub fn wrap_for(parameters: &Parameters, material: &[u8]) -> Vec<u8> {
    wrap(&parameters.public_key, &parameters.algorithm, material)
}

/// ImportKeyMaterial with the given fields (`None` leaves one out).
pub async fn try_import(
    kms: &Client,
    key: &str,
    token: &[u8],
    encrypted: &[u8],
    model: Option<ExpirationModelType>,
    valid_to: Option<DateTime>,
) -> Result<ImportKeyMaterialOutput, Refusal> {
    kms.import_key_material()
        .key_id(key)
        .import_token(Blob::new(token.to_vec()))
        .encrypted_key_material(Blob::new(encrypted.to_vec()))
        .set_expiration_model(model)
        .set_valid_to(valid_to)
        .send()
        .await
        .map_err(|e| refusal::<_, ()>(Err(e)))
}

/// Wraps `material` for `parameters` and imports it into `key` with
/// `model` and `valid_to`.
pub async fn try_import_with(
    kms: &Client,
    key: &str,
    parameters: &Parameters,
    material: &[u8],
    model: Option<ExpirationModelType>,
    valid_to: Option<DateTime>,
) -> Result<ImportKeyMaterialOutput, Refusal> {
    let wrapped = wrap_for(parameters, material);
    try_import(kms, key, &parameters.token, &wrapped, model, valid_to).await
}

/// Fresh parameters (RSAES_OAEP_SHA_256, RSA_2048), then ImportKeyMaterial
/// of `material` into `key` that does not expire.
pub async fn try_import_material(
    kms: &Client,
    key: &str,
    material: &[u8],
) -> Result<ImportKeyMaterialOutput, Refusal> {
    let parameters = parameters(kms, key, AlgorithmSpec::RsaesOaepSha256).await;
    try_import_with(
        kms,
        key,
        &parameters,
        material,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire),
        None,
    )
    .await
}

/// As [`try_import_material`], which must succeed; the KeyMaterialId.
pub async fn import_material(kms: &Client, key: &str, material: &[u8]) -> String {
    try_import_material(kms, key, material)
        .await
        .unwrap_or_else(|e| panic!("ImportKeyMaterial into {key}: {e:?}"))
        .key_material_id
        .expect("KeyMaterialId")
}

/// What one ImportKeyMaterial call says beyond the material.
#[derive(Default)]
pub struct ImportOptions {
    /// `ImportType`.
    pub import_type: Option<ImportType>,
    /// `KeyMaterialDescription`.
    pub description: Option<&'static str>,
    /// `KeyMaterialId`.
    pub material_id: Option<String>,
    /// `ValidTo` (then `KEY_MATERIAL_EXPIRES`; else it does not expire).
    pub valid_to: Option<DateTime>,
}

/// Imports `material` into `key` with `options` (fresh parameters,
/// RSAES_OAEP_SHA_256; no expiry unless a ValidTo is given).
pub async fn import_with(
    kms: &Client,
    key: &str,
    material: &[u8],
    options: ImportOptions,
) -> Result<ImportKeyMaterialOutput, Refusal> {
    let parameters = parameters(kms, key, AlgorithmSpec::RsaesOaepSha256).await;
    let model = match options.valid_to {
        Some(_) => ExpirationModelType::KeyMaterialExpires,
        None => ExpirationModelType::KeyMaterialDoesNotExpire,
    };
    kms.import_key_material()
        .key_id(key)
        .import_token(Blob::new(parameters.token.clone()))
        .encrypted_key_material(Blob::new(wrap_for(&parameters, material)))
        .expiration_model(model)
        .set_valid_to(options.valid_to)
        .set_import_type(options.import_type)
        .set_key_material_description(options.description.map(str::to_string))
        .set_key_material_id(options.material_id)
        .send()
        .await
        .map_err(|e| refusal::<_, ()>(Err(e)))
}

/// The HMAC of `message` under `key` with `algorithm`, computed offline.
pub fn hmac_offline(algorithm: &MacAlgorithmSpec, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("any key length");
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        MacAlgorithmSpec::HmacSha224 => mac::<Hmac<sha2::Sha224>>(key, message),
        MacAlgorithmSpec::HmacSha256 => mac::<Hmac<sha2::Sha256>>(key, message),
        MacAlgorithmSpec::HmacSha384 => mac::<Hmac<sha2::Sha384>>(key, message),
        MacAlgorithmSpec::HmacSha512 => mac::<Hmac<sha2::Sha512>>(key, message),
        other => panic!("{other:?}"),
    }
}

/// GenerateMac through Trent: the MAC, or the refusal.
pub async fn try_generate_mac(
    kms: &Client,
    key: &str,
    algorithm: &MacAlgorithmSpec,
    message: &[u8],
) -> Result<Vec<u8>, Refusal> {
    kms.generate_mac()
        .key_id(key)
        .mac_algorithm(algorithm.clone())
        .message(Blob::new(message.to_vec()))
        .send()
        .await
        .map(|out| out.mac.expect("Mac").into_inner())
        .map_err(|e| refusal::<_, ()>(Err(e)))
}

/// Encrypt through Trent: the ciphertext, or the refusal.
pub async fn try_encrypt(kms: &Client, key: &str, plaintext: &[u8]) -> Result<Vec<u8>, Refusal> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext.to_vec()))
        .send()
        .await
        .map(|out| out.ciphertext_blob.expect("CiphertextBlob").into_inner())
        .map_err(|e| refusal::<_, ()>(Err(e)))
}

/// Decrypt through Trent (no KeyId): the plaintext and KeyMaterialId, or
/// the refusal.
pub async fn try_decrypt(kms: &Client, blob: &[u8]) -> Result<(Vec<u8>, String), Refusal> {
    kms.decrypt()
        .ciphertext_blob(Blob::new(blob.to_vec()))
        .send()
        .await
        .map(|out| {
            (
                out.plaintext.expect("Plaintext").into_inner(),
                out.key_material_id.expect("KeyMaterialId"),
            )
        })
        .map_err(|e| refusal::<_, ()>(Err(e)))
}

/// The error code of a refusal; panics on success.
pub fn code<T: std::fmt::Debug>(result: Result<T, Refusal>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err((code, _)) => code,
    }
}
