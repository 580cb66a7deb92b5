//! Any bytes handed to the CIFAR-10 batch reader, under a layout the first bytes choose (1 to 4
//! records of up to 4x4 images of 1 to 3 channels, verified or not), and to the tar reader the
//! downloader unpacks CIFAR-10's archive with: each must return a value or an error, never
//! panic, and never allocate more than the input justifies. When the batch reader accepts the
//! bytes, they must encode back to themselves.
#![no_main]

use convlab_datasets::cifar10::batch::{encode_batch, read_batch_bytes, BatchLayout};
use convlab_datasets::tar::TarReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let layout = BatchLayout {
        records: 1 + (a & 3) as usize,
        rows: 1 + ((a >> 2) & 3) as usize,
        cols: 1 + ((a >> 4) & 3) as usize,
        channels: 1 + (b % 3) as usize,
        classes: 1 + ((b >> 2) % 10),
    };
    let exact = a & 0x80 != 0;
    if let Ok((images, labels)) = read_batch_bytes("fuzz input", rest, &layout, exact) {
        let encoded = encode_batch(&images, &labels).expect("a batch read is a batch");
        assert_eq!(encoded, rest);
    }

    let mut tar = TarReader::new(rest, 1 << 24);
    while let Ok(Some(_entry)) = tar.next_entry() {
        if tar.copy_data(&mut std::io::sink()).is_err() {
            break;
        }
    }
});
