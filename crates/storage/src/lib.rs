//! Content-addressed storage for Chrysalis: Kubo-exact CIDs, CAR files, the local store and
//! the remote backends (Kubo RPC, pinning services, Arweave).
