//! Windows builds carry an application manifest (crate `embed-manifest`,
//! no resource compiler needed, also when cross-compiling): run as the
//! user who started it (`asInvoker`, never a UAC prompt), per-monitor DPI
//! aware, UTF-8 code page, the real Windows version, common controls 6.
fn main() {
    if std::env::var_os("CARGO_CFG_WINDOWS").is_some() {
        embed_manifest::embed_manifest(embed_manifest::new_manifest("Lotse.Client"))
            .expect("unable to embed the Windows manifest");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
