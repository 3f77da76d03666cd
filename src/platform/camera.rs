//! Taking a document photo, behind one interface.
//!
//! * Desktop (and the browser preview): the system file dialog through `<input type=file>`
//!   (`capture="environment"` opens the camera where the webview supports it).
//! * Android/iOS: `<input type=file>` delivers no files in Dioxus 0.7.10 (upstream issues
//!   3720, 3849, 5135), so the app calls a small native camera plugin instead. The plugin
//!   (Kotlin `CameraPlugin.takePhoto()` / Swift `UIImagePickerController`) is described in
//!   platforms/android/README.md and platforms/ios/README.md; it cannot be built on this
//!   development machine (no Android NDK / Xcode), so [`take_photo`] reports that honestly
//!   until the plugin is linked.
//!
//! Whatever the source, the bytes go to `Store::add_photo`, which runs the photo pipeline.

/// How the capture screen should offer photo taking on this platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoSource {
    /// An `<input type=file accept=image/*>` (desktop, browser preview).
    FileInput,
    /// A button that calls [`take_photo`] (Android, iOS).
    NativeCamera,
}

pub fn photo_source() -> PhotoSource {
    if cfg!(any(target_os = "android", target_os = "ios")) {
        PhotoSource::NativeCamera
    } else {
        PhotoSource::FileInput
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("已取消拍照 / cancelled")]
    Cancelled,
    #[error("没有相机权限，请在系统设置中允许 / camera permission denied")]
    Permission,
    #[error("此版本未包含相机插件 / the native camera plugin is not linked in this build")]
    Unavailable,
}

/// Open the native camera and return the JPEG it took.
pub async fn take_photo() -> Result<Vec<u8>, CameraError> {
    // The native plugin is linked only in mobile builds made with `dx bundle` (see
    // platforms/); desktop builds use the file input and never call this.
    Err(CameraError::Unavailable)
}
