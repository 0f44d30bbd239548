//! redub-dsp
