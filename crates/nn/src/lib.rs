//! convlab-nn: not written yet (see the open issues).
