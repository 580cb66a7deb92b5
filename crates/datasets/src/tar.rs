//! Just enough of the tar format to take named regular files out of an archive without trusting
//! it: POSIX ustar headers, GNU long names (`L`) and pax `path`/`size` records (`x`), which is
//! what GNU tar and Python's tarfile write.
//!
//! ```text
//! an archive:  header block, data padded to 512 bytes, header block, data, ..., zero blocks
//! offset  size  header field (512-byte block, numbers in octal ASCII)
//! 0       100   name (NUL-terminated unless 100 bytes long)
//! 124     12    size of the data
//! 148     8     checksum: the sum of the header's bytes, this field counted as spaces
//! 156     1     type: '0' or NUL file, '1' hard link, '2' symlink, '5' directory, ...
//! 257     6     "ustar\0" (POSIX; then 345..500 is a prefix of the name) or "ustar " (GNU)
//! ```
//!
//! The reader only parses: it never touches the file system, so nothing in an archive can make
//! it write anywhere. It reports each entry's type and its path made relative and safe
//! (`safe_path`); the caller (`download::archive`) decides what to keep. Every length comes from
//! the archive, so each is bounded before it is used: long names and pax records at 64 KiB, the
//! whole stream at a limit the caller sets.

use std::io::{self, Read, Write};

use crate::error::ArchiveProblem;

/// Tar's unit: headers are one block, data is padded to whole blocks.
pub const BLOCK: u64 = 512;

/// The largest long-name or pax record accepted (a path is far shorter).
const MAX_META: u64 = 64 << 10;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    HardLink,
    /// A character or block device, a FIFO, or a type this reader does not know; the byte is
    /// the header's type flag.
    Other(u8),
}

impl Kind {
    fn from_flag(flag: u8) -> Kind {
        match flag {
            // '7' is a "contiguous file", read like a regular one.
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'5' => Kind::Directory,
            other => Kind::Other(other),
        }
    }

    /// For messages: "symbolic link".
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "regular file",
            Kind::Directory => "directory",
            Kind::Symlink => "symbolic link",
            Kind::HardLink => "hard link",
            Kind::Other(b'3') => "character device",
            Kind::Other(b'4') => "block device",
            Kind::Other(b'6') => "FIFO",
            Kind::Other(_) => "entry of an unknown type",
        }
    }
}

/// One entry's header, as the archive states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path as written in the archive (after a long name or pax path replaced it).
    pub path: String,
    pub kind: Kind,
    /// Bytes of data that follow the header.
    pub size: u64,
    /// Where the header starts in the tar stream.
    pub offset: u64,
}

/// Why reading an entry's data stopped: the archive's fault, or the writer's.
#[derive(Debug)]
pub enum CopyError {
    Archive(ArchiveProblem),
    Write(io::Error),
}

impl From<ArchiveProblem> for CopyError {
    fn from(p: ArchiveProblem) -> Self {
        CopyError::Archive(p)
    }
}

/// Reads a tar stream (already decompressed) entry by entry.
pub struct TarReader<R> {
    r: R,
    /// Bytes consumed from `r` so far: the offset in the tar stream.
    pos: u64,
    /// Data bytes of the current entry not yet read, then its padding.
    data_left: u64,
    padding: u64,
    /// The most bytes the stream may hold.
    limit: u64,
    ended: bool,
}

impl<R: Read> TarReader<R> {
    /// A reader that refuses a stream longer than `limit` bytes.
    pub fn new(r: R, limit: u64) -> TarReader<R> {
        TarReader {
            r,
            pos: 0,
            data_left: 0,
            padding: 0,
            limit,
            ended: false,
        }
    }

    /// The next entry, skipping whatever of the previous entry's data was not read; `None` at
    /// the end-of-archive marker (a zero block).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ArchiveProblem> {
        if self.ended {
            return Ok(None);
        }
        self.skip_rest()?;
        // A GNU long name or a pax record replaces the path (and pax the size) of the header
        // that follows it.
        let mut long_path: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            let offset = self.pos;
            let mut block = [0u8; BLOCK as usize];
            self.read_exactly(&mut block, "a header")?;
            if block.iter().all(|&b| b == 0) {
                self.ended = true;
                return Ok(None);
            }
            let header = Header::parse(&block, offset)?;
            self.data_left = header.size;
            self.padding = padding(header.size);
            match header.flag {
                b'L' => long_path = Some(self.read_meta(offset, "a GNU long name")?.0),
                b'x' => {
                    let (_, bytes) = self.read_meta(offset, "a pax header")?;
                    let records = parse_pax(&bytes, offset)?;
                    if let Some(path) = records.path {
                        long_path = Some(path);
                    }
                    if records.size.is_some() {
                        pax_size = records.size;
                    }
                }
                // A long link target, or pax records for the whole archive: nothing this reader
                // uses, but read (bounded) so the next header is found.
                b'K' | b'g' => {
                    self.read_meta(offset, "a link name or global pax header")?;
                }
                flag => {
                    let size = pax_size.unwrap_or(header.size);
                    self.data_left = size;
                    self.padding = padding(size);
                    return Ok(Some(Entry {
                        path: long_path.unwrap_or(header.path),
                        kind: Kind::from_flag(flag),
                        size,
                        offset,
                    }));
                }
            }
        }
    }

    /// Copies the current entry's data (all of it) to `out`.
    pub fn copy_data(&mut self, out: &mut impl Write) -> Result<(), CopyError> {
        let mut buf = vec![0u8; 1 << 16];
        while self.data_left > 0 {
            let want = self.data_left.min(buf.len() as u64) as usize;
            self.read_exactly(&mut buf[..want], "an entry's data")?;
            self.data_left -= want as u64;
            out.write_all(&buf[..want]).map_err(CopyError::Write)?;
        }
        Ok(())
    }

    /// Reads what follows the end-of-archive marker (more zero blocks, and for gzip the CRC check
    /// at the very end), within the limit.
    pub fn finish(&mut self) -> Result<(), ArchiveProblem> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = self.read_some(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
        }
    }

    fn skip_rest(&mut self) -> Result<(), ArchiveProblem> {
        let mut buf = vec![0u8; 1 << 16];
        while self.data_left + self.padding > 0 {
            let inside = if self.data_left > 0 {
                "an entry's data"
            } else {
                "an entry's padding"
            };
            let want = (self.data_left + self.padding).min(buf.len() as u64) as usize;
            self.read_exactly(&mut buf[..want], inside)?;
            let from_data = (want as u64).min(self.data_left);
            self.data_left -= from_data;
            self.padding -= want as u64 - from_data;
        }
        Ok(())
    }

    /// The data of a metadata entry (long name, pax), as text with trailing NULs removed, and
    /// as bytes.
    fn read_meta(
        &mut self,
        offset: u64,
        what: &'static str,
    ) -> Result<(String, Vec<u8>), ArchiveProblem> {
        if self.data_left > MAX_META {
            return Err(ArchiveProblem::BadField {
                offset,
                field: "size (of a long name or pax record: over 64 KiB)",
            });
        }
        let mut bytes = vec![0u8; self.data_left as usize];
        self.read_exactly(&mut bytes, what)?;
        self.data_left = 0;
        self.skip_rest()?;
        let text = String::from_utf8_lossy(&bytes)
            .trim_end_matches('\0')
            .to_string();
        Ok((text, bytes))
    }

    fn read_exactly(&mut self, buf: &mut [u8], inside: &'static str) -> Result<(), ArchiveProblem> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read_some(&mut buf[filled..])?;
            if n == 0 {
                return Err(ArchiveProblem::Truncated {
                    offset: self.pos,
                    inside,
                });
            }
            filled += n;
        }
        Ok(())
    }

    /// One read, counted against the limit; a read error is the stream's (a gzip decoder's
    /// errors are corrupt data).
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, ArchiveProblem> {
        loop {
            match self.r.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    if self.pos > self.limit {
                        return Err(ArchiveProblem::TooLarge { cap: self.limit });
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ArchiveProblem::Gzip(e.to_string())),
            }
        }
    }
}

/// Bytes of zeros after `size` bytes of data, up to the next block.
fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// The fields of a header block this reader uses.
struct Header {
    path: String,
    size: u64,
    flag: u8,
}

impl Header {
    fn parse(block: &[u8; BLOCK as usize], offset: u64) -> Result<Header, ArchiveProblem> {
        let bad = |field| ArchiveProblem::BadField { offset, field };
        let stated = octal(&block[148..156]).ok_or(bad("checksum"))?;
        // The checksum field itself counts as eight spaces. Some old writers summed signed
        // bytes; accept either sum, as GNU tar does.
        let unsigned: u64 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        let signed: i64 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as i8 as i64
                }
            })
            .sum();
        if stated != unsigned && stated as i64 != signed {
            return Err(ArchiveProblem::BadChecksum { offset });
        }
        let size = octal(&block[124..136]).ok_or(bad("size"))?;
        let name = text(&block[0..100]);
        // POSIX ustar keeps a name's leading directories in a prefix field; GNU tar uses those
        // bytes for other things, so only "ustar\0" has one.
        let path = if &block[257..263] == b"ustar\0" {
            let prefix = text(&block[345..500]);
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        } else {
            name
        };
        Ok(Header {
            path,
            size,
            flag: block[156],
        })
    }
}

/// A NUL-terminated (or full-width) text field.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// An octal number field: optional spaces, octal digits, then NULs or spaces. (GNU's base-256
/// form, for sizes over 8 GiB, is refused: no file here comes near.)
fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let digits = s.trim_matches(|c| c == ' ' || c == '\0');
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u64::from_str_radix(digits, 8).ok()
}

/// The pax keys this reader honours.
struct PaxRecords {
    path: Option<String>,
    size: Option<u64>,
}

/// Pax records: `"<length> <key>=<value>\n"`, the length counting the whole record.
fn parse_pax(bytes: &[u8], offset: u64) -> Result<PaxRecords, ArchiveProblem> {
    let bad = ArchiveProblem::BadField {
        offset,
        field: "pax record",
    };
    let mut records = PaxRecords {
        path: None,
        size: None,
    };
    let mut rest = bytes;
    while !rest.is_empty() && rest[0] != 0 {
        let space = rest.iter().position(|&b| b == b' ').ok_or(bad.clone())?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad.clone())?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad);
        }
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or(bad.clone())?;
        let value = String::from_utf8_lossy(&record[eq + 1..]).into_owned();
        match &record[..eq] {
            b"path" => records.path = Some(value),
            b"size" => records.size = Some(value.parse().map_err(|_| bad.clone())?),
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(records)
}

/// `path` made relative: leading `/`s refused, `.` and empty components dropped, `..` refused.
/// `None` for a path that would leave the directory the archive is unpacked into.
pub fn safe_path(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// Writes one ustar header block for a file of `size` bytes (tests and fixtures build archives
/// with it; `kind_flag` lets them write links and directories too). `name` must fit 100 bytes.
pub fn header_block(name: &str, size: u64, kind_flag: u8, link: &str) -> [u8; BLOCK as usize] {
    let mut block = [0u8; BLOCK as usize];
    let put = |block: &mut [u8; BLOCK as usize], at: usize, bytes: &[u8]| {
        block[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(&mut block, 0, &name.as_bytes()[..name.len().min(100)]);
    put(&mut block, 100, b"0000644\0");
    put(&mut block, 108, b"0000000\0");
    put(&mut block, 116, b"0000000\0");
    put(&mut block, 124, format!("{size:011o}\0").as_bytes());
    put(&mut block, 136, b"00000000000\0");
    block[156] = kind_flag;
    put(&mut block, 157, &link.as_bytes()[..link.len().min(100)]);
    put(&mut block, 257, b"ustar\0");
    put(&mut block, 263, b"00");
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    put(&mut block, 148, format!("{sum:06o}\0 ").as_bytes());
    block
}

/// A whole tar archive of `(name, type flag, data)` entries, links pointing at `"target"`.
pub fn build_archive(entries: &[(&str, u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(name, flag, data) in entries {
        out.extend_from_slice(&header_block(name, data.len() as u64, flag, "target"));
        out.extend_from_slice(data);
        out.resize(out.len() + padding(data.len() as u64) as usize, 0);
    }
    out.resize(out.len() + 2 * BLOCK as usize, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert_eq!(safe_path("a/b.bin").as_deref(), Some("a/b.bin"));
        assert_eq!(safe_path("./a//b.bin").as_deref(), Some("a/b.bin"));
        assert_eq!(safe_path("a/").as_deref(), Some("a"));
        assert_eq!(safe_path("../evil"), None);
        assert_eq!(safe_path("a/../../evil"), None);
        assert_eq!(safe_path("/etc/passwd"), None);
    }

    #[test]
    fn octal_fields() {
        assert_eq!(octal(b"00000001750\0"), Some(0o1750));
        assert_eq!(octal(b"  1750 \0"), Some(0o1750));
        assert_eq!(octal(b"\0\0\0"), None);
        assert_eq!(octal(b"0009"), None);
        assert_eq!(octal(b"\x80\0\0\0\0\0\0\x01"), None);
    }

    #[test]
    fn reads_what_it_builds_including_gnu_long_names_and_pax_paths() {
        let long = format!("{}/file.bin", "d".repeat(120));
        // "<len> path=<value>\n", where <len> (3 digits here) counts the whole record.
        let pax = format!("{} path={long}\n", long.len() + 7 + 3);
        assert_eq!(pax.len(), long.len() + 7 + 3);
        let archive = build_archive(&[
            ("dir/", b'5', b""),
            ("dir/a.bin", b'0', b"hello"),
            ("././@LongLink", b'L', format!("{long}\0").as_bytes()),
            ("truncated-name", b'0', b"x"),
            ("PaxHeaders/x", b'x', pax.as_bytes()),
            ("short", b'0', &[7u8; 600]),
        ]);
        let mut tar = TarReader::new(&archive[..], 1 << 20);
        let mut seen = Vec::new();
        while let Some(entry) = tar.next_entry().expect("entry") {
            let mut data = Vec::new();
            if entry.path == "dir/a.bin" {
                tar.copy_data(&mut data).expect("data");
            }
            seen.push((entry.path, entry.kind, entry.size, data));
        }
        tar.finish().expect("finish");
        assert_eq!(
            seen,
            [
                ("dir/".to_string(), Kind::Directory, 0, vec![]),
                ("dir/a.bin".to_string(), Kind::File, 5, b"hello".to_vec()),
                (long.clone(), Kind::File, 1, vec![]),
                (long, Kind::File, 600, vec![]),
            ]
        );
    }

    #[test]
    fn damaged_archives_are_errors_not_panics() {
        let archive = build_archive(&[("a.bin", b'0', &[1u8; 1000])]);
        for cut in [0, 100, 511, 512, 700, 1536] {
            let mut tar = TarReader::new(&archive[..cut], 1 << 20);
            let result = (|| {
                while tar.next_entry()?.is_some() {}
                Ok::<_, ArchiveProblem>(())
            })();
            assert!(
                matches!(result, Err(ArchiveProblem::Truncated { .. })),
                "cut {cut}: {result:?}"
            );
        }
        let mut flipped = archive.clone();
        flipped[10] ^= 1;
        let mut tar = TarReader::new(&flipped[..], 1 << 20);
        assert_eq!(
            tar.next_entry(),
            Err(ArchiveProblem::BadChecksum { offset: 0 })
        );
        let mut tar = TarReader::new(&archive[..], 1000);
        let result = (|| {
            while tar.next_entry()?.is_some() {}
            Ok::<_, ArchiveProblem>(())
        })();
        assert_eq!(result, Err(ArchiveProblem::TooLarge { cap: 1000 }));
    }
}
