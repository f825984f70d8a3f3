//! Art engines for Chrysalis: the procedural engine, the diffusion pipeline, image I/O and
//! PNG provenance. Every engine generates from a [`chrysalis_core`] recipe so that an image
//! can be regenerated bit-for-bit.
