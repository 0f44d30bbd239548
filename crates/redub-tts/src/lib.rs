//! redub-tts
