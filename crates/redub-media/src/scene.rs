//! Scene cuts: the times where the picture changes abruptly, from ffmpeg's `scene` score.

use crate::cmd::Tool;
use redub_core::{Error, Result};
use std::path::Path;

/// The scene-change score above which the pipeline counts a frame as a cut.
pub const SCENE_THRESHOLD: f64 = 0.3;

/// Width the frames are scaled to before they are scored. For 8-bit video, decoding costs far
/// more than scoring; but ffmpeg scores frames of more than 8 bits (10-bit HEVC, AV1, ProRes)
/// with plain C code, which at full size nearly doubles the time. At 160 pixels scoring costs
/// next to nothing for any input, and cuts still score far above the frames between them.
const SCORE_WIDTH: u32 = 160;

/// The times (ms from the start of the file, ascending) of the frames of `input`'s first video
/// stream whose scene-change score (ffmpeg's `select` filter: 0 = same picture, 1 = nothing in
/// common) exceeds `threshold`; the pipeline uses [`SCENE_THRESHOLD`]. Every frame is decoded
/// (skipping to keyframes would miss cuts); they are scored at 160 pixels wide.
///
/// An input without a video stream (audio only, or audio with cover art) has no cuts: the
/// result is empty, not an error. A `threshold` outside 0..=1 is an [`Error::Unsupported`]; an
/// input ffmpeg cannot read is an [`Error::Input`].
pub fn scene_cuts(input: &Path, threshold: f64) -> Result<Vec<u64>> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::Unsupported(format!(
            "scene-cut threshold {threshold} is outside 0 to 1; the pipeline uses {SCENE_THRESHOLD}"
        )));
    }
    // `settb=AVTB` puts `pts:` in microseconds: showinfo prints `pts_time:` with 6 significant
    // digits only, which rounds to 0.1 s past 10 000 s.
    let filter = format!("scale={SCORE_WIDTH}:-2:flags=bilinear,select='gt(scene,{threshold})',settb=AVTB,showinfo");
    let cmd = Tool::ffmpeg()
        .args(["-loglevel", "level+info", "-nostats", "-i"])
        .arg(input)
        .args(["-map", "0:V:0", "-an", "-sn", "-dn"])
        .args(["-vf", filter.as_str(), "-f", "null", "-"]);
    let out = cmd.output()?;
    if !out.status.success() {
        if out.stderr.contains("matches no streams") {
            return Ok(Vec::new());
        }
        if !input.exists() {
            return Err(Error::Input {
                path: input.to_path_buf(),
                problem: "does not exist".into(),
                fix: "Check the path and the file name".into(),
            });
        }
        return Err(Error::Input {
            path: input.to_path_buf(),
            problem: format!("could not be scanned for scene cuts (ffmpeg: {})", ffmpeg_errors(input, &out.stderr)),
            fix: "Check that it is a complete video file; if a player can open it, re-encode it with ffmpeg \
                  (e.g. `ffmpeg -i in -c:v libx264 -c:a copy out.mp4`) and try again"
                .into(),
        });
    }
    Ok(showinfo_times_ms(&out.stderr))
}

/// The frame times in a showinfo log whose `pts:` is in microseconds, rounded to ms, ascending.
fn showinfo_times_ms(stderr: &str) -> Vec<u64> {
    let mut times: Vec<u64> = stderr
        .lines()
        .filter(|l| l.contains("Parsed_showinfo") && l.contains(" n:"))
        .filter_map(|l| {
            let rest = &l[l.find(" pts:")? + " pts:".len()..];
            let us: i64 = rest.split_whitespace().next()?.parse().ok()?;
            Some((u64::try_from(us).unwrap_or(0) + 500) / 1000)
        })
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// ffmpeg's `[error]`/`[fatal]` lines (from `-loglevel level+…`) in one line, without the file
/// name it prefixes; the last lines of stderr when there are none.
fn ffmpeg_errors(input: &Path, stderr: &str) -> String {
    let prefix = format!("{}: ", input.display());
    let msgs: Vec<String> = stderr
        .lines()
        .filter_map(|l| ["[error] ", "[fatal] "].iter().find_map(|tag| l.find(tag).map(|i| &l[i + tag.len()..])))
        .map(|m| m.trim().strip_prefix(prefix.as_str()).unwrap_or(m.trim()).to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if msgs.is_empty() {
        let tail = crate::cmd::tail_lines(stderr, 3).replace('\n', "; ");
        if tail.is_empty() {
            "no details".to_string()
        } else {
            tail
        }
    } else {
        msgs.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_showinfo_pts_in_microseconds() {
        let log = "\
[info] Stream mapping:
[Parsed_showinfo_3 @ 0x564b877ff540] [info] config in time_base: 1/1000000, frame_rate: 25/1
[Parsed_showinfo_3 @ 0x564b877ff540] [info] n:   1 pts:12345040000 pts_time:12345   pos: 1 fmt:yuv420p
[Parsed_showinfo_3 @ 0x564b877ff540] [info] color_range:tv color_space:unknown
[Parsed_showinfo_3 @ 0x564b877ff540] [info] n:   0 pts:4640000 pts_time:4.64    pos:   297723 fmt:yuv420p
[Parsed_showinfo_3 @ 0x564b877ff540] [info] n:   2 pts:  40499 pts_time:0.040499 pos: 1
[Parsed_showinfo_3 @ 0x564b877ff540] [info] n:   3 pts:NOPTS pts_time:NOPTS pos: 1
[Parsed_showinfo_3 @ 0x564b877ff540] [info] n:   4 pts:-20000 pts_time:-0.02 pos: 1
[Parsed_showinfo_3 @ 0x564b877ff540] [info] n:   5 pts:4640400 pts_time:4.6404 pos: 1
";
        assert_eq!(showinfo_times_ms(log), [0, 40, 4640, 12_345_040]);
        assert!(showinfo_times_ms("").is_empty());
    }

    #[test]
    fn error_lines_without_the_path() {
        let p = Path::new("/tmp/x.mp4");
        let log = "[info] Input #0\n[error] /tmp/x.mp4: Invalid data found when processing input\n\
                   [h264 @ 0x1] [fatal] something broke\n";
        assert_eq!(ffmpeg_errors(p, log), "Invalid data found when processing input; something broke");
        assert_eq!(ffmpeg_errors(p, "plain line\n"), "plain line");
        assert_eq!(ffmpeg_errors(p, ""), "no details");
    }
}
