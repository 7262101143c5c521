//! The alarm sound, with a file-backed ALSA device and with none.

use lotse_desktop::DesktopError;
use lotse_desktop::sound::{play_alarm, play_alarm_blocking};

use crate::support::{env_lock, wait_for};

/// Points ALSA at a config file of ours. A different file list also makes
/// ALSA reload its configuration inside this process.
fn alsa_config(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write alsa config");
    // SAFETY (edition 2024 `set_var`): `env_lock` keeps other tests out.
    unsafe {
        std::env::set_var("ALSA_CONFIG_PATH", &path);
        std::env::set_var("HOME", dir);
    }
}

/// Seconds of audio in a WAV file the ALSA file plugin wrote.
fn wav_seconds(bytes: &[u8]) -> f64 {
    assert!(bytes.len() > 44 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let channels = f64::from(u16_at(22));
    let rate = f64::from(u32_at(24));
    let bits = f64::from(u16_at(34));
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("data chunk")
        + 8;
    (bytes.len() - data) as f64 / (rate * channels * bits / 8.0)
}

#[test]
fn alarm_plays_into_a_file_device_and_fails_cleanly_without_one() {
    let _env = env_lock();
    let dir = tempfile::tempdir().expect("tmp");

    // No usable device at all: a clean error, no panic.
    alsa_config(
        dir.path(),
        "none.conf",
        "pcm.!default { type hw card 99 }\n",
    );
    let e = play_alarm().expect_err("there is no audio device");
    assert!(matches!(e, DesktopError::NoAudioDevice(_)), "{e:?}");
    assert!(matches!(
        play_alarm_blocking(),
        Err(DesktopError::NoAudioDevice(_))
    ));

    // A default device that writes what is played into a WAV file.
    let played = dir.path().join("played.wav");
    let conf = format!(
        "pcm.!default {{ type file slave.pcm {{ type null }} file \"{}\" format \"wav\" }}\n",
        played.display()
    );
    alsa_config(dir.path(), "file.conf", &conf);
    play_alarm_blocking().expect("the alarm plays");
    let secs = wav_seconds(&std::fs::read(&played).expect("played.wav"));
    assert!((0.35..5.0).contains(&secs), "{secs} s played");

    // Non-blocking: returns at once, the sound arrives in the file.
    std::fs::remove_file(&played).expect("rm");
    play_alarm().expect("the alarm starts");
    wait_for("the alarm to be played", || {
        let b = std::fs::read(&played).ok()?;
        (b.len() > 44 && wav_seconds(&b) >= 0.35).then_some(())
    });
}
