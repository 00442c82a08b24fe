/* Unit tests for scorers/pii.c: each kind's positives and the look-alikes it must leave alone
 * (versions, dates, prices, ids, hashes, test and sample numbers, reserved addresses), tool-call
 * arguments, masking in the detail, params validation and what each param changes. */
#include <stdio.h>
#include <string.h>

#include "scorers/scorer.h"
#include "tests/tap.h"
#include "tests/unit/scorer_harness.h"

extern const struct scorer scorer_pii;

static const struct harness_case cases[] = {
    /* Email */
    {"email in prose is flagged and masked", "Write to maria.gonzalez@brightwave.com today.", NULL,
     true, "email at 9: m***@b***.com", "gonzalez"},
    {"email with a plus tag and a subdomain", "Send to a.chen+billing@mail.fastmail.fm.", NULL,
     true, "a***@m***.fm", "billing"},
    {"uppercase email with a two-label suffix", "ROBERT.KING@HOTMAIL.CO.UK", NULL, true,
     "R***@H***.UK", NULL},
    {"email in angle brackets", "From: Grace <grace.liu@pinecrest.edu>", NULL, true,
     "g***@p***.edu", NULL},
    {"example.com is allowed by default", "Replace user1@example.com with yours.", NULL, false,
     NULL, NULL},
    {"a subdomain of example.org is allowed", "ops@mail.example.org", NULL, false, NULL, NULL},
    {"the .test TLD is reserved", "me@site.test", NULL, false, NULL, NULL},
    {"placeholder local part you@", "Use you@acme-corp.com as the sender.", NULL, false, NULL,
     NULL},
    {"placeholder domain yourcompany", "jane@yourcompany.com", NULL, false, NULL, NULL},
    {"noreply is a machine address", "Use noreply@github.com to hide it.", NULL, false, NULL, NULL},
    {"git SSH remote is not an email", "git clone git@github.com:acme/w.git", NULL, false, NULL,
     NULL},
    {"image density suffix is not an email", "Add icon@2x.png and logo@3x.webp.", NULL, false, NULL,
     NULL},
    {"package pin is not an email", "npm i lodash@4.17.21 @types/node", NULL, false, NULL, NULL},
    {"address without a TLD", "Use the format name@domain here.", NULL, false, NULL, NULL},

    /* Phones */
    {"US phone with dashes", "Call 415-638-2047 today.", NULL, true, "phone at 5: ***-***-**47",
     "638-2047"},
    {"US phone with parentheses", "Phone: (312) 847-2291", NULL, true, "(***) ***-**91", NULL},
    {"US phone with dots", "Cell 206.782.4410", NULL, true, "phone", NULL},
    {"US phone with spaces", "Mark Ellis - 503 772 1904", NULL, true, "phone", NULL},
    {"US phone with a leading 1", "Call 1-773-219-4408 now", NULL, true, "*-***-***-**08", NULL},
    {"international +1", "Reach Tom at +1 646 291 7738.", NULL, true, "+* *** *** **38", NULL},
    {"E.164 without separators", "WhatsApp +16462917738", NULL, true, "phone", NULL},
    {"tel: URI", "<a href=\"tel:+16462917738\">call</a>", NULL, true, "phone", NULL},
    {"French international", "le +33 6 12 48 93 57 (portable)", NULL, true, "phone", NULL},
    {"French international with (0)", "+33 (0)1 42 68 53 71", NULL, true, "phone", NULL},
    {"UK with the 00 prefix", "Office: 0044 20 7123 4568.", NULL, true, "phone", NULL},
    {"German mobile", "Handy: +49 151 23456789", NULL, true, "phone", NULL},
    {"Japanese mobile", "+81 90-4418-2736", NULL, true, "phone", NULL},
    {"unseparated digits after a phone word", "mobile: 6462917738", NULL, true, "phone", NULL},
    {"555 exchange is fiction", "Try (212) 555-0147 in the script.", NULL, false, NULL, NULL},
    {"555 area code is a placeholder", "Format: (555) 123-4567", NULL, false, NULL, NULL},
    {"toll-free number is a business", "Call 1-800-273-8255.", NULL, false, NULL, NULL},
    {"area code starting with 1 is not NANP", "e.g. 123-456-7890", NULL, false, NULL, NULL},
    {"unseparated 10 digits without a phone word", "Account 6462917738", NULL, false, NULL, NULL},
    {"dashed number after an id word", "Invoice 415-638-2047 is overdue.", NULL, false, NULL, NULL},
    {"dashed phone after an id word is that id", "Invoice 415-638-2047 is paid.", NULL, false, NULL,
     NULL},
    {"11 digits with a leading 1 after a phone word", "tel 16462917738", NULL, true, "phone", NULL},
    {"unseparated digits with the phone word past the context",
     "phone: see the directory for "
     "the desk number 6462917738",
     NULL, false, NULL, NULL},
    {"unassigned country code", "+28 1234 5678 90", NULL, false, NULL, NULL},
    {"French national needs region FR", "Appelez le 06 12 48 93 57.", NULL, false, NULL, NULL},
    {"ISO date", "Shipped 2024-11-29.", NULL, false, NULL, NULL},
    {"time", "At 14:30:15 UTC.", NULL, false, NULL, NULL},
    {"semantic version", "Upgrade to 2.14.1 from 2.13.0.", NULL, false, NULL, NULL},
    {"price", "Total $1,234.56 (was $12,450.00).", NULL, false, NULL, NULL},
    {"decimal", "p99 went from 415.6 ms to 555.2 ms.", NULL, false, NULL, NULL},
    {"order id", "Order ORD-2024-000123 shipped.", NULL, false, NULL, NULL},
    {"long digit run", "Trace 41556380474155638047 done.", NULL, false, NULL, NULL},
    {"ISBN-13 and ISBN-10", "ISBN 978-0-306-40615-7 / 0-306-40615-2", NULL, false, NULL, NULL},
    {"thousands with spaces", "From 1 234 567 to 1 301 442.", NULL, false, NULL, NULL},
    {"UUID", "id 123e4567-e89b-12d3-a456-426614174000", NULL, false, NULL, NULL},
    {"hex hash", "sha1 3f786850e387550fdab836ed7e6dc881de23001b", NULL, false, NULL, NULL},
    {"percentage", "grew 4155638047% (sic)", NULL, false, NULL, NULL},

    /* Cards */
    {"Visa grouped by spaces, last 4 shown", "Card 4539 6209 6654 2877 exp 09/27", NULL, true,
     "credit_card at 5: visa ****2877", "4539 6209"},
    {"Visa grouped by dashes", "4539-6209-6654-2877", NULL, true, "visa ****2877", NULL},
    {"Visa unseparated", "card=4539620966542877", NULL, true, "visa", "4539620966542877"},
    {"Visa with 19 digits", "4716 0722 9710 2822 519", NULL, true, "visa ****2519", NULL},
    {"Mastercard 51-55", "5312 2393 7045 0526", NULL, true, "mastercard", NULL},
    {"Mastercard 2-series", "2720 8559 6654 2591", NULL, true, "mastercard", NULL},
    {"Amex 4-6-5", "Amex 3487 471742 92471", NULL, true, "amex ****2471", NULL},
    {"Discover 644", "6445 4116 6773 7315", NULL, true, "discover", NULL},
    {"Diners 4-6-4", "3852 976863 3533", NULL, true, "diners", NULL},
    {"JCB", "3530 8614 0831 6006", NULL, true, "jcb", NULL},
    {"UnionPay", "6212 6639 2332 1463", NULL, true, "unionpay", NULL},
    {"UnionPay co-branded range is Discover", "6221 8699 3467 3656", NULL, true, "discover", NULL},
    {"unknown IIN with a valid Luhn", "9021 8819 7369 9357", NULL, false, NULL, NULL},
    {"Luhn failure is not a card", "Ref 4539 3268 0861 7934", NULL, false, NULL, NULL},
    {"published test card", "Use 4242 4242 4242 4242 in test mode.", NULL, false, NULL, NULL},
    {"Amex test number", "Try 378282246310005.", NULL, false, NULL, NULL},
    {"mixed separators", "4539 6209-6654 2877", NULL, false, NULL, NULL},
    {"EAN-13 barcode", "EAN 4006381333931", NULL, false, NULL, NULL},

    /* SSN */
    {"SSN with dashes, last 2 shown", "SSN is 536-22-8174.", NULL, true, "ssn at 7: ***-**-**74",
     "8174"},
    {"SSN with spaces after SSN", "SSN: 412 83 9021", NULL, true, "ssn", NULL},
    {"SSN unseparated after social security", "Social security number 536228174", NULL, true, "ssn",
     NULL},
    {"SSN area 000", "000-12-3456", NULL, false, NULL, NULL},
    {"SSN area 666", "666-45-1234", NULL, false, NULL, NULL},
    {"SSN area 9xx", "912-34-5678", NULL, false, NULL, NULL},
    {"SSN group 00", "536-00-8174", NULL, false, NULL, NULL},
    {"SSN serial 0000", "536-22-0000", NULL, false, NULL, NULL},
    {"advertising SSN 078-05-1120", "the wallet card 078-05-1120", NULL, false, NULL, NULL},
    {"sample SSN 123-45-6789", "e.g. 123-45-6789", NULL, false, NULL, NULL},
    {"spaced 3-2-4 without an SSN word", "codes 536 22 8174", NULL, false, NULL, NULL},

    /* IBAN */
    {"French IBAN in groups", "IBAN FR04 7541 8820 0208 7233 5525 137", NULL, true,
     "iban at 5: FR**...37 (27 chars)", "7541"},
    {"German IBAN unspaced", "DE62790443512922121951", NULL, true, "DE**...51", NULL},
    {"UK IBAN", "GB04 BARC 0724 6382 3897 62", NULL, true, "GB**", NULL},
    {"Norwegian IBAN (15)", "NO1371134860469", NULL, true, "NO**", NULL},
    {"IBAN with a bad checksum", "DE12 3456 7890 1234 5678 90", NULL, false, NULL, NULL},
    {"documentation example IBAN", "e.g. DE89 3704 0044 0532 0130 00", NULL, false, NULL, NULL},
    {"IBAN one character short", "DE6279044351292212195", NULL, false, NULL, NULL},

    /* IPv4 */
    {"public IPv4, first octet shown", "from 185.220.101.47 port 22", NULL, true,
     "ipv4 at 5: 185.x.x.x", "220.101"},
    {"public IPv4 with a port", "http://73.162.88.214:8080/", NULL, true, "ipv4", NULL},
    {"private IPv4", "10.0.3.14, 192.168.1.20, 172.17.0.1", NULL, false, NULL, NULL},
    {"loopback and unspecified", "127.0.0.1 and 0.0.0.0", NULL, false, NULL, NULL},
    {"documentation IPv4", "203.0.113.9 and 198.51.100.7", NULL, false, NULL, NULL},
    {"public resolvers", "8.8.8.8, 1.1.1.1, 9.9.9.9", NULL, false, NULL, NULL},
    {"after a version word", "firmware version 81.2.69.160", NULL, false, NULL, NULL},
    {"four single digits read as a version", "needs 4.2.3.9 first", NULL, false, NULL, NULL},
    {"inside a longer dotted run", "OID 1.3.6.1.4.1.343", NULL, false, NULL, NULL},
    {"octet out of range", "81.2.69.260", NULL, false, NULL, NULL},

    /* IPv6 */
    {"full global IPv6", "client 2a02:8071:2b84:9e00:5c3d:11ff:fe2a:73b1.", NULL, true,
     "ipv6 at 7: 2a02:...", "9e00"},
    {"compressed global IPv6", "from 2600:1700:3ec0:7a10::2f over", NULL, true, "ipv6", NULL},
    {"IPv4-mapped public address", "peer ::ffff:81.2.69.160", NULL, true, "ipv4", NULL},
    {"loopback, link-local, documentation", "::1, fe80::1, 2001:db8::42", NULL, false, NULL, NULL},
    {"unique local", "fd12:3456:789a::1", NULL, false, NULL, NULL},
    {"public resolver IPv6", "2001:4860:4860::8888", NULL, false, NULL, NULL},
    {"MAC address and time", "00:1A:2B:3C:4D:5E at 12:30:45", NULL, false, NULL, NULL},
    {"C++ scope operator", "std::vector<int>::iterator and ::operator new", NULL, false, NULL,
     NULL},

    /* Tool-call arguments */
    {"email in a tool argument names the member", "Sending.",
     "{\"to\":\"derek.hahn@northwind.io\",\"subject\":\"Hi\"}", true,
     "email in tool_calls[0].to at 0: d***@n***.io", NULL},
    {"email in a nested array", "", "{\"m\":{\"cc\":[\"x@ok.example\",\"k.ito@shiftlab.jp\"]}}",
     true, "tool_calls[0].m.cc[1]", NULL},
    {"JSON escapes are decoded", "", "{\"note\":\"lena\\u0040web.de\"}", true, "email", NULL},
    {"phone as a JSON number under a phone key", "", "{\"customer_phone\": 5032847761}", true,
     "phone in tool_calls[0].customer_phone", NULL},
    {"card as a JSON number", "", "{\"pan\": 4539620966542877}", true, "visa", NULL},
    {"phoneNumber member names a phone", "", "{\"phoneNumber\": \"6462917738\"}", true, "phone",
     NULL},
    {"hotel_name is not a phone member", "", "{\"hotel_name\": 6462917738}", false, NULL, NULL},
    {"a text member is not a phone hint", "", "{\"text\": \"ref 6462917738\"}", false, NULL, NULL},
    {"arguments that are not JSON are scanned raw", "", "to=maria@brightwave.com", true,
     "tool_calls[0].arguments", NULL},
    {"ordinary arguments", "Calling.", "{\"order_id\":\"ORD-2024-000123\",\"amount\":1234.56}",
     false, NULL, NULL},
};

static void test_score_and_applicability(void)
{
    struct err err;
    void *state = harness_setup(&scorer_pii, NULL, &err);
    struct score s = harness_score_text(&scorer_pii, state,
                                        "a.b@brightwave.com, 415-638-2047 and 185.220.101.47");
    ok(s.applicable && s.defect, "three findings are a defect");
    is_int((long long)s.score, 3, "score counts the findings");
    s = harness_score_text(&scorer_pii, state, "");
    ok(!s.applicable && !s.defect, "no text and no tool call is not applicable");
    s = harness_score_text(&scorer_pii, state, "Nothing personal here.");
    ok(s.applicable && !s.defect && s.score == 0, "clean text: applicable, no defect, score 0");
    is_str(s.detail, "no personal data", "clean text: detail says so");

    /* More findings than the detail holds end with a count of the rest. */
    char text[4096] = "";
    for (int i = 0; i < 40; i++) {
        char one[64];
        snprintf(one, sizeof(one), "person%d@brightwave.com ", i);
        strcat(text, one);
    }
    s = harness_score_text(&scorer_pii, state, text);
    is_int((long long)s.score, 40, "forty emails: score 40");
    ok(strstr(s.detail, " more") != NULL && strlen(s.detail) < SCORE_DETAIL_BYTES,
       "forty emails: detail ends with how many more");
    scorer_pii.teardown(state);
}

static const struct harness_param_error param_errors[] = {
    {"[]", "pii.params: expected an object"},
    {"{\"kinds\": [\"email\", \"ssn2\"]}",
     "pii.params.kinds[1]: \"ssn2\": unknown kind (email, phone, credit_card, ssn, iban, ipv4, "
     "ipv6, ip)"},
    {"{\"kinds\": []}", "pii.params.kinds: expected a non-empty array of kind names"},
    {"{\"kinds\": [1]}", "pii.params.kinds[0]: expected a string"},
    {"{\"region\": \"XX\"}", "pii.params.region: \"XX\": unknown region (US, CA, FR, GB, UK, DE)"},
    {"{\"region\": [\"US\", 3]}",
     "pii.params.region[1]: not a string: unknown region (US, CA, FR, GB, UK, DE)"},
    {"{\"region\": []}", "pii.params.region: expected a region code or a non-empty array of them"},
    {"{\"allow_domains\": \"example.com\"}",
     "pii.params.allow_domains: expected an array of strings"},
    {"{\"allow_domains\": [\"\"]}", "pii.params.allow_domains[0]: expected a non-empty string"},
    {"{\"allow\": [\"--\"]}", "pii.params.allow[0]: \"--\": nothing to match"},
    {"{\"include_private_ips\": \"yes\"}",
     "pii.params.include_private_ips: expected true or false"},
    {"{\"colour\": 1}",
     "pii.params.colour: unknown parameter (known: kinds, region, allow_domains, allow, "
     "include_private_ips)"},
};

static const struct harness_param_case param_cases[] = {
    {"kinds [email] flags emails", "{\"kinds\": [\"email\"]}", "x.y@brightwave.com", true},
    {"kinds [email] leaves phones", "{\"kinds\": [\"email\"]}", "Call 415-638-2047", false},
    {"kinds [ip] flags IPv4", "{\"kinds\": [\"ip\"]}", "from 185.220.101.47", true},
    {"kinds [ip] flags IPv6", "{\"kinds\": [\"ip\"]}", "from 2600:1700:3ec0:7a10::2f", true},
    {"region FR flags French national numbers", "{\"region\": \"FR\"}", "le 06 12 48 93 57", true},
    {"region FR flags dotted French numbers", "{\"region\": \"FR\"}", "01.42.68.53.71", true},
    {"region FR leaves US national numbers", "{\"region\": \"FR\"}", "Call 415-638-2047", false},
    {"region FR leaves dates", "{\"region\": \"FR\"}", "le 01/02/2024 et 01.02.2024", false},
    {"region [US, GB] flags UK mobiles", "{\"region\": [\"US\", \"GB\"]}", "07911 204518", true},
    {"region GB flags London numbers", "{\"region\": \"UK\"}", "020 7946 0958", true},
    {"region DE flags German landlines", "{\"region\": \"DE\"}", "Tel. 030 90182736", true},
    {"region DE accepts a slash", "{\"region\": \"DE\"}", "Tel. 089/1234567", true},
    {"region DE leaves dotted dates", "{\"region\": \"DE\"}", "am 01.02.2024", false},
    {"allow_domains allows a domain", "{\"allow_domains\": [\"brightwave.com\"]}",
     "maria@brightwave.com", false},
    {"allow_domains replaces the defaults", "{\"allow_domains\": [\"brightwave.com\"]}",
     "jane.roe@example.com", true},
    {"allow ignores a value however it is written", "{\"allow\": [\"(646) 291 7738\"]}",
     "Call 646-291-7738", false},
    {"allow leaves other values", "{\"allow\": [\"(646) 291 7738\"]}", "Call 646-291-7739", true},
    {"include_private_ips flags private addresses", "{\"include_private_ips\": true}",
     "host 10.1.2.3", true},
    {"include_private_ips flags unique local IPv6", "{\"include_private_ips\": true}",
     "host fd12:3456:789a::1", true},
    {"include_private_ips still leaves loopback", "{\"include_private_ips\": true}",
     "127.0.0.1 and ::1", false},
};

/* Inputs built to make a careless matcher backtrack or rescan. */
static const char *const pathological[] = {"a@", "b@a.", "1 ",   "1-",    "+1 ",   "(1)",
                                           "::", "a:a:", "1.1.", "4111 ", "DE89 ", "aaaaaaaa."};

int main(void)
{
    harness_cases(&scorer_pii, cases, HARNESS_COUNT(cases));
    test_score_and_applicability();
    harness_param_errors(&scorer_pii, param_errors, HARNESS_COUNT(param_errors));
    harness_params(&scorer_pii, param_cases, HARNESS_COUNT(param_cases));
    harness_pathological(&scorer_pii, NULL, pathological, HARNESS_COUNT(pathological));
    return done_testing();
}
