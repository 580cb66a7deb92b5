//! convlab-datasets: not written yet (see the open issues).
