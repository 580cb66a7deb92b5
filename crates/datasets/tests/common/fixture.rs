//! Reads `fixtures/split_fixture.txt` (written by `fixtures/make_split_fixture.py`, whose
//! docstring describes the format): records of a keyword line followed by named lines of
//! integers.

pub struct Record {
    /// The words of the record's first line, e.g. `["split", "10", "0.2", "0"]`.
    pub head: Vec<String>,
    /// The following lines: name, integers.
    pub lines: Vec<(String, Vec<u64>)>,
}

impl Record {
    pub fn get(&self, name: &str) -> &[u64] {
        self.lines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_else(|| panic!("record {:?} has no line {name}", self.head))
    }

    pub fn indices(&self, name: &str) -> Vec<usize> {
        self.get(name).iter().map(|&v| v as usize).collect()
    }
}

const RECORD_KINDS: [&str; 3] = ["split", "bigsplit", "perm"];

pub fn records(kind: &str) -> Vec<Record> {
    let text = include_str!("../fixtures/split_fixture.txt");
    let mut records: Vec<Record> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut words = line.split_whitespace();
        let name = words.next().expect("a word");
        if RECORD_KINDS.contains(&name) {
            records.push(Record {
                head: line.split_whitespace().map(str::to_string).collect(),
                lines: Vec::new(),
            });
        } else {
            let values = words.map(|w| w.parse().expect("an integer")).collect();
            let record = records.last_mut().expect("a record before its lines");
            record.lines.push((name.to_string(), values));
        }
    }
    let found: Vec<Record> = records.into_iter().filter(|r| r.head[0] == kind).collect();
    assert!(!found.is_empty(), "fixture has no {kind} records");
    found
}
