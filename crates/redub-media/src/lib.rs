//! redub-media
