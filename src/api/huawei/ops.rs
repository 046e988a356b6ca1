//! Dispatch: routes a prepared request to its operation.

use super::body::Fields;
use super::context::{Ctx, OpResult};
use super::dialect::Dialect;
use super::projects::Project;
use super::{
    HuaweiError, Route, crypto, key_import, key_pairs, keys, mac, public_key, regions, rotation,
    signing, tags,
};
use crate::kms::{Caller, Kms};
use axum::http::Method;

/// An authenticated request, ready to run.
pub struct Prepared {
    /// The caller, in the project's region.
    pub caller: Caller,
    /// The project named by the path.
    pub project: Project,
    /// The operation.
    pub route: Route,
    /// The HTTP method.
    pub method: Method,
    /// The body's fields.
    pub fields: Fields,
    /// The decoded query parameters.
    pub query: Vec<(String, String)>,
    /// Whether an X-Auth-Token authenticated it (confined to its project).
    pub by_token: bool,
}

/// Runs one request.
pub fn dispatch(kms: &Kms, dialect: &Dialect, p: Prepared) -> OpResult {
    let mut cx = Ctx {
        kms,
        dialect,
        caller: p.caller,
        project: p.project,
        fields: p.fields,
        query: p.query,
        by_token: p.by_token,
    };
    let cx = &mut cx;
    match p.route {
        Route::Op(op) => match op {
            "create-key" => keys::create_key(cx),
            "describe-key" => keys::describe_key(cx),
            "list-keys" => keys::list_keys(cx),
            "enable-key" => keys::set_enabled(cx, true),
            "disable-key" => keys::set_enabled(cx, false),
            "schedule-key-deletion" => keys::schedule_deletion(cx),
            "cancel-key-deletion" => keys::cancel_deletion(cx),
            "update-key-alias" => keys::update_alias(cx),
            "update-key-description" => keys::update_description(cx),
            "create-datakey" => crypto::create_datakey(cx, true),
            "create-datakey-without-plaintext" => crypto::create_datakey(cx, false),
            "create-rsa-datakey-pair" => key_pairs::create_datakey_pair(cx, key_pairs::RSA_SPECS),
            "create-ec-datakey-pair" => key_pairs::create_datakey_pair(cx, key_pairs::EC_SPECS),
            "encrypt-datakey" => crypto::encrypt_datakey(cx),
            "decrypt-datakey" => crypto::decrypt_datakey(cx),
            "encrypt-data" => crypto::encrypt_data(cx),
            "decrypt-data" => crypto::decrypt_data(cx),
            "gen-random" => crypto::gen_random(cx),
            "sign" => signing::sign(cx),
            "verify" => signing::verify(cx),
            "get-publickey" => public_key::get_public_key(cx),
            "generate-mac" => mac::generate_mac(cx),
            "verify-mac" => mac::verify_mac(cx),
            "enable-key-rotation" => rotation::enable(cx),
            "disable-key-rotation" => rotation::disable(cx),
            "get-key-rotation-status" => rotation::status(cx),
            "update-key-rotation-interval" => rotation::update_interval(cx),
            "rotate-on-demand" => rotation::rotate_on_demand(cx),
            "get-parameters-for-import" => key_import::get_parameters(cx),
            "import-key-material" => key_import::import_material(cx),
            "delete-imported-key-material" => key_import::delete_material(cx),
            other => Err(HuaweiError::no_such_api("POST", other)),
        },
        Route::KeyTags(key) if p.method == Method::GET => tags::show(cx, &key),
        Route::KeyTags(key) => tags::create(cx, &key),
        Route::KeyTagsAction(key) => tags::batch(cx, &key),
        Route::DeleteTag(key, tag) => tags::delete(cx, &key, &tag),
        Route::ProjectTags => tags::project_tags(cx),
        Route::ResourceInstances => tags::resource_instances(cx),
        Route::Replicate(key) => regions::replicate(cx, &key),
        Route::UpdatePrimaryRegion(key) => regions::update_primary_region(cx, &key),
        Route::Regions => regions::list_regions(cx),
    }
}
