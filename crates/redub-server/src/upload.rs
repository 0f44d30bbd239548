//! Uploads: the type comes from the content, never from the name. The first bytes are matched
//! against the containers Redub can dub, and ffprobe must then find an audio stream. The name a
//! client gave is kept for display only; on disk the file is `input.<ext of the sniffed type>`.

/// A container recognised from its first bytes, and the extension it is stored under.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, s: &[u8]| head.len() >= i + s.len() && &head[i..i + s.len()] == s;
    if at(4, b"ftyp") {
        // ISO base media: MP4, MOV, M4A, 3GP.
        return Some(if at(8, b"qt  ") { "mov" } else { "mp4" });
    }
    if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
        return Some("mkv"); // Matroska and WebM
    }
    if at(0, b"RIFF") && (at(8, b"WAVE") || at(8, b"AVI ")) {
        return Some(if at(8, b"WAVE") { "wav" } else { "avi" });
    }
    if at(0, b"fLaC") {
        return Some("flac");
    }
    if at(0, b"OggS") {
        return Some("ogg");
    }
    if at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0 && head[1] & 0x06 != 0) {
        return Some("mp3");
    }
    if at(0, &[0x00, 0x00, 0x01, 0xba]) || at(0, &[0x00, 0x00, 0x01, 0xb3]) {
        return Some("mpg");
    }
    if head.first() == Some(&0x47) && head.len() > 188 && head[188] == 0x47 {
        return Some("ts");
    }
    None
}

/// A display name: the last path part, control characters and slashes out, at most 200 chars.
pub fn display_name(given: Option<&str>) -> String {
    let base = given.unwrap_or("upload").rsplit(['/', '\\']).next().unwrap_or("upload");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "upload".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_their_first_bytes() {
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"), Some("mp4"));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\x02\0"), Some("mov"));
        assert_eq!(sniff(&[0x1a, 0x45, 0xdf, 0xa3, 1, 2]), Some("mkv"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff(b"ID3\x04\0"), Some("mp3"));
        assert_eq!(sniff(b"<html><body>not a video</body></html>"), None);
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn names_never_become_paths() {
        assert_eq!(display_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(display_name(Some("C:\\films\\a.mp4")), "a.mp4");
        assert_eq!(display_name(Some("..")), "upload");
        assert_eq!(display_name(Some("a\nb.mp4")), "ab.mp4");
        assert_eq!(display_name(None), "upload");
    }
}
