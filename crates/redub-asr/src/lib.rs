//! redub-asr
