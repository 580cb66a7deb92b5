//! convlab-autograd: not written yet (see the open issues).
