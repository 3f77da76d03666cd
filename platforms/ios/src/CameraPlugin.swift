// Daiban native camera plugin for iOS (not built on the development machine: no Xcode).
// Called from Rust (src/platform/camera.rs); returns the path of a JPEG in the temporary
// directory, or "" when cancelled, or "denied".
import AVFoundation
import UIKit

final class CameraPlugin: NSObject, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
    private var completion: ((String) -> Void)?

    func takePhoto(from root: UIViewController, completion: @escaping (String) -> Void) {
        guard AVCaptureDevice.authorizationStatus(for: .video) != .denied else { return completion("denied") }
        guard UIImagePickerController.isSourceTypeAvailable(.camera) else { return completion("") }
        let picker = UIImagePickerController()
        picker.sourceType = .camera
        picker.delegate = self
        self.completion = completion
        root.present(picker, animated: true)
    }

    func imagePickerController(_ picker: UIImagePickerController,
                               didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
        picker.dismiss(animated: true)
        guard let image = info[.originalImage] as? UIImage, let data = image.jpegData(compressionQuality: 0.92) else {
            return finish("")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString).jpg")
        do { try data.write(to: url, options: .atomic); finish(url.path) } catch { finish("") }
    }

    func imagePickerControllerDidCancel(_ picker: UIImagePickerController) {
        picker.dismiss(animated: true)
        finish("")
    }

    private func finish(_ path: String) {
        completion?(path)
        completion = nil
    }
}
