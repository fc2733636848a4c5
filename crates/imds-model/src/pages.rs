//! EC2's XHTML error pages (spec §3.5, §6): iso-8859-1 prolog, XHTML 1.0 Transitional,
//! title and h1 both `<status> - <reason>`, a single-TAB DOCTYPE continuation, final newline.

/// The XHTML error page for `status` with `reason`, as EC2 lays it out.
pub fn error_page(status: u16, reason: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  \
<title>{status} - {reason}</title>\n \
</head>\n \
<body>\n  \
<h1>{status} - {reason}</h1>\n \
</body>\n\
</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_match_the_captures() {
        // ECS-2861 / DD-4857: 337 bytes for 404, 343 for 401.
        assert_eq!(error_page(404, "Not Found").len(), 337);
        assert_eq!(error_page(401, "Unauthorized").len(), 343);
    }
}
