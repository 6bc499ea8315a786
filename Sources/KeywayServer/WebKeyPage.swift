import Crypto
import Foundation
import KeywayCore

/// The page a web-key link opens: the lock's name, when access is valid, and an Open button that calls
/// remote activation with the key. Plain HTML, one small script and style, nothing fetched from elsewhere.
enum WebKeyPage {
    static let style = """
        body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}
        h1{font-size:1.4rem}button{font-size:1.2rem;padding:.7rem 2rem;border-radius:.4rem;border:0;
        background:#1d6b3a;color:#fff;cursor:pointer}button:disabled{background:#888}
        #result{margin-top:1rem;font-weight:bold}.ok{color:#1d6b3a}.failed{color:#a31515}
        """

    static let script = """
        document.querySelectorAll('button[data-device]').forEach(function (button) {
          button.addEventListener('click', function () {
            var result = document.getElementById('result');
            button.disabled = true;
            result.textContent = 'Opening…';
            result.className = '';
            fetch('/v1/devices/' + button.dataset.device + '/remote-activation?uuid=' +
                  encodeURIComponent(document.body.dataset.key), {method: 'POST'})
              .then(function (response) {
                return response.json().then(function (body) { return {status: response.status, body: body}; });
              })
              .then(function (reply) {
                var ok = reply.status === 200 && reply.body.errorCode === 'OK';
                result.textContent = ok ? 'Opened: the door is open for ' + reply.body.activationTime + ' seconds.'
                  : 'Not opened: ' + (reply.body.errorMessage || reply.body.message || reply.status);
                result.className = ok ? 'ok' : 'failed';
              })
              .catch(function () { result.textContent = 'Not opened: no answer'; result.className = 'failed'; })
              .then(function () { button.disabled = false; });
          });
        });
        """

    static func hash(_ text: String) -> String {
        "'sha256-" + Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString() + "'"
    }

    static let contentSecurityPolicy =
        "default-src 'none'; script-src \(hash(script)); style-src \(hash(style)); connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    static let missing = document(
        title: "Web key not found",
        body: "<h1>This web key is not valid</h1><p>It may have expired or been revoked.</p>",
        key: "")

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    static func document(title: String, body: String, key: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><style>\(style)</style></head>
        <body data-key="\(escape(key))">\(body)<script>\(script)</script></body></html>
        """
    }

    /// Nil when no share has this web key.
    static func render(_ uuid: UUID, keyway: Keyway) async throws -> String? {
        guard let share = try await keyway.store.share(webKey: uuid) else { return nil }
        let devices: [Device]
        switch share.source {
        case .device(let id): devices = try await keyway.store.devices([id])
        case .deviceGroup(let id): devices = try await keyway.store.deviceGroupMembers(of: [id])[id] ?? []
        }
        let locks = devices.filter { $0.type == .lock && $0.dateDecommissioned == nil }
        let zone = locks.first.map { AccessEvaluator.zone(of: $0, default: keyway.config.defaultTimeZone) }
        var validity = "From " + (share.windowStart.map { "\($0.date) \($0.time)" } ?? "now")
        if let endDate = share.endDate {
            validity += " until " + (share.endTime.map { "\(endDate) \($0)" } ?? "the end of \(endDate)")
        } else {
            validity += " until further notice"
        }
        if let zone { validity += " (\(zone.identifier) time)" }
        var schedule = ""
        if !share.schedule.isEmpty {
            let lines = share.schedule.map { entry in
                let day =
                    entry.recurrence == .daily
                    ? "Every day"
                    : (entry.recurrence == .biWeekly ? "Every other " : "Every ")
                        + (entry.recurrence == .daily ? "" : entry.dayOfWeek?.rawValue ?? "")
                let hours = entry.period.map { " \($0.startTime)–\($0.endTime)" } ?? ", all day"
                return "<li>\(escape(day + hours))</li>"
            }
            schedule = "<ul id=\"schedule\">" + lines.joined() + "</ul>"
        }
        let buttons = locks.map { lock in
            "<p><button type=\"button\" data-device=\"\(lock.id.rawValue)\">Open \(escape(lock.name))</button></p>"
        }.joined()
        let names = locks.map(\.name).joined(separator: ", ")
        let body = """
            <h1 id="lock">\(escape(names.isEmpty ? "No lock" : names))</h1>
            <p id="validity">\(escape(validity))</p>\(schedule)\(buttons)<p id="result" role="status"></p>
            """
        return document(title: "Web key: " + names, body: body, key: uuid.uuidString.lowercased())
    }
}
