//! The nudge alarm: a short two-tone beep of our own
//! (`assets/sounds/alarm.wav`, made by `assets/sounds/make_alarm.py`),
//! embedded in the binary and played with rodio on its own thread.

use std::sync::mpsc;

use crate::DesktopError;

/// The alarm sound: 0.4 s, 16-bit mono PCM, 22050 Hz.
pub const ALARM_WAV: &[u8] = include_bytes!("../../../assets/sounds/alarm.wav");

/// Starts playing the alarm and returns once the audio device is open; the
/// sound plays on a background thread (`lotse-alarm`). Without an audio
/// device this returns [`DesktopError::NoAudioDevice`] (never panics).
pub fn play_alarm() -> Result<(), DesktopError> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("lotse-alarm".into())
        .spawn(move || {
            let _ = play(Some(tx));
        })
        .map_err(|e| DesktopError::Thread(e.to_string()))?;
    rx.recv()
        .map_err(|_| DesktopError::Audio("the sound thread died".into()))?
}

/// Plays the alarm and returns when it has been played completely (or
/// failed). Blocks: not for a UI thread.
pub fn play_alarm_blocking() -> Result<(), DesktopError> {
    play(None)
}

/// Opens the device, reports that to `opened` (if given), plays to the end.
fn play(opened: Option<mpsc::SyncSender<Result<(), DesktopError>>>) -> Result<(), DesktopError> {
    let report = |r: Result<(), DesktopError>| -> Result<(), DesktopError> {
        match &opened {
            Some(tx) => {
                let copy = match &r {
                    Ok(()) => Ok(()),
                    Err(e) => Err(DesktopError::Audio(e.to_string())),
                };
                let _ = tx.send(r);
                copy
            }
            None => r,
        }
    };
    let mut sink = match rodio::DeviceSinkBuilder::open_default_sink() {
        Ok(s) => s,
        Err(e) => {
            tracing::info!("no sound for the alarm: {e}");
            return report(Err(DesktopError::NoAudioDevice(e.to_string())));
        }
    };
    sink.log_on_drop(false);
    let decoder = match rodio::Decoder::new(std::io::Cursor::new(ALARM_WAV)) {
        Ok(d) => d,
        Err(e) => return report(Err(DesktopError::Audio(e.to_string()))),
    };
    let player = rodio::Player::connect_new(sink.mixer());
    player.append(decoder);
    report(Ok(()))?;
    player.sleep_until_end();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_sound_is_a_short_wav() {
        let w = super::ALARM_WAV;
        assert_eq!(&w[0..4], b"RIFF");
        assert_eq!(&w[8..12], b"WAVE");
        assert!(w.len() < 24 * 1024);
        assert!(rodio::Decoder::new(std::io::Cursor::new(w)).is_ok());
    }
}
