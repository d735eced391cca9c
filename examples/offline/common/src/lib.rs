//! What the kubo double and the PinShare double share. Both stand in for Go programs, so their
//! messages carry Go's error text (`*os.PathError`, syscall errno strings) and their log lines
//! leave in one write each (two processes writing to one terminal never interleave mid-line).

pub mod goerr;
pub mod lines;
