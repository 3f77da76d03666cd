//! What differs between desktop, Android and iOS, behind one small interface each:
//! where the app keeps its data ([`default_data_dir`]) and how a document photo is taken
//! ([`camera`]). The rest of the app never asks which platform it runs on.

pub mod camera;

use std::path::PathBuf;

/// Bundle id, also the data folder name on desktop.
pub const APP_ID: &str = "cn.daiban.agent";

/// The app's private data directory: `~/.local/share/cn.daiban.agent` on Linux, the app
/// sandbox on iOS, `getFilesDir()` on Android (through JNI; Dioxus 0.7 has no API for it).
pub fn default_data_dir() -> PathBuf {
    #[cfg(target_os = "android")]
    let dir = android_files_dir();
    #[cfg(target_os = "ios")]
    let dir = dirs::data_dir();
    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    let dir = dirs::data_dir().map(|d| d.join(APP_ID));
    dir.unwrap_or_else(|| std::env::temp_dir().join(APP_ID))
}

#[cfg(target_os = "android")]
#[allow(unsafe_code)] // JNI: the two raw pointers come from ndk_context (SAFETY below)
fn android_files_dir() -> Option<PathBuf> {
    use jni::objects::{JObject, JString};
    let ctx = ndk_context::android_context();
    // SAFETY: ndk_context is initialised by the Android activity glue before main runs.
    let vm = unsafe { jni::JavaVM::from_raw(ctx.vm().cast()) }.ok()?;
    let mut env = vm.attach_current_thread().ok()?;
    // SAFETY: the same glue holds a global reference to the activity for the app's lifetime.
    let context = unsafe { JObject::from_raw(ctx.context().cast()) };
    let file = env.call_method(&context, "getFilesDir", "()Ljava/io/File;", &[]).ok()?.l().ok()?;
    let path = env.call_method(&file, "getAbsolutePath", "()Ljava/lang/String;", &[]).ok()?.l().ok()?;
    let s: String = env.get_string(&JString::from(path)).ok()?.into();
    Some(PathBuf::from(s))
}
