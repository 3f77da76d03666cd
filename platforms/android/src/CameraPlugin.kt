// Daiban native camera plugin for Android (not built on the development machine: no NDK).
// Called from Rust (src/platform/camera.rs) through Dioxus 0.7's Android FFI. Returns the path
// of a full-resolution JPEG in the app cache; Rust reads it, runs the photo pipeline, and
// deletes it.
package cn.daiban.agent

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.provider.MediaStore
import androidx.core.app.ActivityCompat
import androidx.core.content.ContextCompat
import androidx.core.content.FileProvider
import java.io.File
import java.util.concurrent.CompletableFuture

class CameraPlugin(private val activity: Activity) {
    private var pending: CompletableFuture<String>? = null
    private var output: File? = null

    /** Ask for a photo; completes with a file path, or "" when cancelled, or "denied". */
    fun takePhoto(): CompletableFuture<String> {
        val result = CompletableFuture<String>()
        if (ContextCompat.checkSelfPermission(activity, Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            ActivityCompat.requestPermissions(activity, arrayOf(Manifest.permission.CAMERA), REQUEST_PERMISSION)
            result.complete("denied")
            return result
        }
        val file = File.createTempFile("capture-", ".jpg", activity.cacheDir)
        val uri = FileProvider.getUriForFile(activity, "${activity.packageName}.photos", file)
        val intent = Intent(MediaStore.ACTION_IMAGE_CAPTURE).putExtra(MediaStore.EXTRA_OUTPUT, uri)
        pending = result
        output = file
        activity.startActivityForResult(intent, REQUEST_CAPTURE)
        return result
    }

    /** Forwarded from the activity's onActivityResult. */
    fun onActivityResult(requestCode: Int, resultCode: Int) {
        if (requestCode != REQUEST_CAPTURE) return
        val file = output
        val done = pending ?: return
        pending = null
        output = null
        if (resultCode == Activity.RESULT_OK && file != null && file.length() > 0) {
            done.complete(file.absolutePath)
        } else {
            file?.delete()
            done.complete("")
        }
    }

    companion object {
        const val REQUEST_CAPTURE = 4301
        const val REQUEST_PERMISSION = 4302
    }
}
