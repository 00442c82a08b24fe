/* Unit tests for scorers/secrets.c: each kind's positives and the look-alikes it must leave
 * alone (placeholders, documentation values, hashes, public keys, prose about formats),
 * tool-call arguments, masking in the detail, the optional entropy detector, params. */
#include "scorers/scorer.h"
#include "tests/tap.h"
#include "tests/unit/scorer_harness.h"

extern const struct scorer scorer_secrets;

/* Values made for these tests: random, in each issuer's format. */
#define OPENAI_LEGACY "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"
#define OPENAI_PROJ   "sk-proj-_c0YsHh47lft6zNHIA33NbEI3p85cRbGIEV45gO-V_RrwlIM5dcJjWpwIqul"
#define ANTHROPIC                                                                                  \
    "sk-ant-api03-pwIKak99neEC7C6JYMiznF6ytTBURaHyx49wQOmCb5k5pbS2Sd6CRSH2D6oqM79-O36jKkv-"        \
    "0GhTnrU_D4J1_pmHdNZ1IAA"
#define AKIA       "AKIATX6M4GDZAFC7NWOK"
#define AWS_SECRET "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"
#define GHP        "ghp_84Bl3WWWqWibY6PFcv7DJzk3i8ju6BRoQowF"
#define GITHUB_PAT                                                                                 \
    "github_pat_11K6EWVCGDKEL4UFOVNUW0_"                                                           \
    "YCY6U15Mg6scc7usQ9kIUKYSqtV7dFzSMu6SWoUnvNPsJZKDIerMwDz1KVB"
#define XOXB   "xoxb-723176560835-0432985785832-csONUggbjrqkCCPsVdj8F0dY"
#define HOOK   "https://hooks.slack.com/services/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"
#define GOOGLE "AIzaj-wf0gZpc5RIpGuK0Q-Ye6UamnabfIoGCo1"
#define STRIPE "sk_live_7UitOZEqThxXlvQLYDPbr7D1YtQHBEbxgXE1Jdhb"
#define JWT                                                                                        \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTgwMDAwMDAwMH0.yLWLIQs_"        \
    "dSPIMhUG9ABMDEsCa5yd-AXDYArQnd_yg5E"
/* Header {"typ":"JWT","kid":"k1"}: no "alg". */
#define NOT_JWT                                                                                    \
    "eyJ0eXAiOiJKV1QiLCJraWQiOiJrMSJ9.eyJzdWIiOiJ1MSJ9."                                           \
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define PEM_LINE "ZWm6i6X89qyhxrrhbuaYuV8GEpAj08dNPu0DmtFQuOyDwYfFTRVBQaeIKJ8NFRXl"
#define B64_48   "FCakyxi+jUloQcfx0OljgNdjCYpc1vYMJqVIvLQKt4CST4LB"

static const struct harness_case cases[] = {
    /* OpenAI and Anthropic */
    {"legacy OpenAI key, masked to 4 chars and length", "OPENAI_API_KEY=" OPENAI_LEGACY, NULL, true,
     "openai at 15: sk-g*** (51 chars)", "gsH9R1"},
    {"OpenAI project key in code", "OpenAI(api_key=\"" OPENAI_PROJ "\")", NULL, true,
     "openai at 16: sk-p***", "c0YsHh"},
    {"Anthropic key", "export ANTHROPIC_API_KEY=" ANTHROPIC, NULL, true, "anthropic at 25: sk-a***",
     "pwIKak"},
    {"sk-... placeholder", "OPENAI_API_KEY=sk-...", NULL, false, NULL, NULL},
    {"sk-your-key-here placeholder", "api_key=\"sk-your-api-key-here\"", NULL, false, NULL, NULL},
    {"x-filled placeholder", "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", NULL, false, NULL,
     NULL},
    {"ascending placeholder", "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD", NULL, false, NULL,
     NULL},
    {"sk-learn and sk- inside words", "pip install scikit-learn; sk-learn; task-runner", NULL,
     false, NULL, NULL},
    {"short sk- value", "sk-1234", NULL, false, NULL, NULL},
    {"prefix in prose", "Anthropic keys start with sk-ant- and are shown once.", NULL, false, NULL,
     NULL},

    /* AWS */
    {"AWS access key id", "key " AKIA " in config.js", NULL, true,
     "aws_access_key_id at 4: AKIA***", "TX6M4G"},
    {"AWS secret after its name", "aws_secret_access_key = " AWS_SECRET, NULL, true,
     "aws_secret_access_key at 24: 2iFe***", "uS0HOk"},
    {"AWS secret near an access key id", "AccessKeyId: " AKIA "\nKey: " AWS_SECRET, NULL, true,
     "aws_secret_access_key", NULL},
    {"40 base64 chars without context", "blob " AWS_SECRET " end", NULL, false, NULL, NULL},
    {"AWS documentation example", "AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     NULL, false, NULL, NULL},
    {"git SHA next to secret words", "secret key fix: 3f786850e387550fdab836ed7e6dc881de23001b",
     NULL, false, NULL, NULL},
    {"AKIA in prose", "Access key ids begin with AKIA or ASIA.", NULL, false, NULL, NULL},

    /* GitHub */
    {"GitHub classic token", "token " GHP, NULL, true, "github at 6: ghp_***", "84Bl3W"},
    {"GitHub token in a remote URL", "https://" GHP "@github.com/acme/infra.git", NULL, true,
     "github", NULL},
    {"GitHub fine-grained token", "GITHUB_TOKEN=" GITHUB_PAT, NULL, true, "github at 13: gith***",
     NULL},
    {"GitHub prefixes in prose", "Tokens start with ghp_ or github_pat_.", NULL, false, NULL, NULL},

    /* Slack */
    {"Slack bot token", "new WebClient('" XOXB "')", NULL, true, "slack at 15: xoxb***",
     "723176560835"},
    {"Slack webhook", "POST " HOOK, NULL, true, "slack_webhook", "JTdjjune"},
    {"Slack placeholder token", "SLACK_BOT_TOKEN=xoxb-your-bot-token", NULL, false, NULL, NULL},
    {"Slack documentation webhook",
     "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", NULL, false,
     NULL, NULL},

    /* Google, Stripe */
    {"Google API key in a URL", "maps/api/js?key=" GOOGLE "&callback=init", NULL, true,
     "google at 16: AIza***", NULL},
    {"truncated Google key", "Keys look like AIzaSy... and are restricted.", NULL, false, NULL,
     NULL},
    {"Stripe live secret key", "STRIPE_KEY=" STRIPE, NULL, true, "stripe", "7UitOZ"},
    {"Stripe publishable key", "pk_live_51HxYzABcdEfGhIjKlMnOpQrStUvWxYz0123456789", NULL, false,
     NULL, NULL},

    /* Private keys */
    {"RSA private key block",
     "-----BEGIN RSA PRIVATE KEY-----\n" PEM_LINE "\n" PEM_LINE "\n-----END RSA PRIVATE KEY-----",
     NULL, true, "private_key at 0: RSA PRIVATE KEY", PEM_LINE},
    {"OpenSSH private key block",
     "id_ed25519:\n-----BEGIN OPENSSH PRIVATE KEY-----\n" PEM_LINE "\n" PEM_LINE "\n-----END "
     "OPENSSH PRIVATE KEY-----",
     NULL, true, "OPENSSH PRIVATE KEY", NULL},
    {"PGP private key block",
     "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" PEM_LINE "\n" PEM_LINE
     "\n-----END PGP PRIVATE KEY BLOCK-----",
     NULL, true, "PGP PRIVATE KEY BLOCK", NULL},
    {"private key template",
     "-----BEGIN PRIVATE KEY-----\n<your key here>\n-----END PRIVATE KEY-----", NULL, false, NULL,
     NULL},
    {"private key header in prose", "never share -----BEGIN OPENSSH PRIVATE KEY-----.", NULL, false,
     NULL, NULL},
    {"public key block",
     "-----BEGIN PUBLIC KEY-----\n" PEM_LINE "\n" PEM_LINE "\n-----END PUBLIC KEY-----", NULL,
     false, NULL, NULL},
    {"certificate", "-----BEGIN CERTIFICATE-----\n" PEM_LINE "\n-----END CERTIFICATE-----", NULL,
     false, NULL, NULL},

    /* JWT */
    {"JWT with alg", "Authorization: Bearer " JWT, NULL, true, "jwt at 22: eyJh***", "eyJzdWIi"},
    {"three base64url parts without alg", "token " NOT_JWT, NULL, false, NULL, NULL},
    {"jwt.io sample token",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
     "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
     NULL, false, NULL, NULL},
    {"JWT header alone", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", NULL, false, NULL, NULL},

    /* Credentials in URLs */
    {"password in a database URL", "postgres://app:Vx9#kq2LmP7r@db:5432/orders", NULL, true,
     "url_credentials at 15: Vx9*** (12 chars)", "kq2LmP"},
    {"password with an empty user", "redis://:p4ssW0rdXyZ81@cache:6379", NULL, true,
     "url_credentials", NULL},
    {"placeholder password in a URL", "postgres://user:password@localhost/db", NULL, false, NULL,
     NULL},
    {"variable in a URL", "postgres://pg:${POSTGRES_PASSWORD}@db/app", NULL, false, NULL, NULL},
    {"password equal to the user", "amqp://guest2:guest2@rabbit:5672", NULL, false, NULL, NULL},

    /* Generic assignments */
    {"client_secret in JSON text", "{\"client_secret\": \"q8Z2vN4kR7wL1xT9mB3cF6hJ\"}", NULL, true,
     "generic at 19: q8Z2***", "vN4kR7"},
    {"secret key in settings", "SECRET_KEY = 'django-insecure-7h#k2$v9q!x3m@p1z8w&r5t0y'", NULL,
     true, "generic", NULL},
    {"npm auth token", "//registry.npmjs.org/:_authToken=npm_Z8EVeIz4J7utmglhJ1LcaEL4qPr0akShZ5PF",
     NULL, true, "generic", NULL},
    {"separator far after the name, blanks between",
     "api_key                                                                      = "
     "q8Z2vN4kR7wL1xT9mB3cF6hJ",
     NULL, true, "generic at 79: q8Z2***", "vN4kR7"},
    {"dotted name of 60 characters",
     "settings.production.database.primary.connection.password = "
     "q8Z2vN4kR7wL1xT9mB3cF6hJ",
     NULL, true, "generic at 59", NULL},
    {"secret name in a sentence, no separator", "Rotate the api_key q8Z2vN4kR7wL1xT9mB3cF6hJ now.",
     NULL, false, NULL, NULL},
    {"secret read from the environment", "SECRET_KEY = os.getenv('DJANGO_SECRET_KEY')", NULL, false,
     NULL, NULL},
    {"max_tokens is not a token", "max_tokens = 4096, token_type = bearer_abc123def", NULL, false,
     NULL, NULL},
    {"placeholder value", "aws_secret_access_key = YOUR_SECRET_ACCESS_KEY", NULL, false, NULL,
     NULL},
    {"password prompt", "password = getpass.getpass()", NULL, false, NULL, NULL},
    {"AWS secret after the id, ending the text", AKIA " " AWS_SECRET, NULL, true,
     "aws_secret_access_key at 21", NULL},
    {"41 base64 characters are not an AWS secret", "the secret " AWS_SECRET "x", NULL, false, NULL,
     NULL},

    /* Look-alikes */
    {"SHA-256 hex", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL, false,
     NULL, NULL},
    {"UUID", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", NULL, false, NULL, NULL},
    {"base64 image", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE",
     NULL, false, NULL, NULL},
    {"npm integrity",
     "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+aRjgmS4FqJbOnTGrxr7==", NULL, false,
     NULL, NULL},

    /* Tool-call arguments */
    {"key in a tool header names the member", "Calling.",
     "{\"headers\":{\"x-api-key\":\"" ANTHROPIC "\"}}", true,
     "anthropic in tool_calls[0].headers.x-api-key at 0", NULL},
    {"secret-named member with a plain value", "", "{\"password\":\"Tr0ub4dor&3xyz\"}", true,
     "generic in tool_calls[0].password at 0: Tr0***", "ub4dor"},
    {"private key with escaped newlines", "",
     "{\"content\":\"-----BEGIN PRIVATE KEY-----\\n" PEM_LINE "\\n" PEM_LINE
     "\\n-----END PRIVATE KEY-----\"}",
     true, "private_key in tool_calls[0].content", NULL},
    {"arguments that are not JSON are scanned raw", "", "token=" GHP, true,
     "tool_calls[0].arguments", NULL},
    {"ordinary arguments", "", "{\"query\":\"rotate api key\",\"api_key_name\":\"prod\"}", false,
     NULL, NULL},
};

static void test_score_and_applicability(void)
{
    struct err err;
    void *state = harness_setup(&scorer_secrets, NULL, &err);
    struct score s = harness_score_text(&scorer_secrets, state, OPENAI_LEGACY " and " GHP);
    is_int((long long)s.score, 2, "score counts the findings");
    s = harness_score_text(&scorer_secrets, state, "");
    ok(!s.applicable && !s.defect, "no text and no tool call is not applicable");
    s = harness_score_text(&scorer_secrets, state, "Nothing to see.");
    ok(s.applicable && !s.defect && s.score == 0, "clean text: applicable, no defect, score 0");
    is_str(s.detail, "no secrets", "clean text: detail says so");
    scorer_secrets.teardown(state);
}

static const struct harness_param_error param_errors[] = {
    {"[]", "secrets.params: expected an object"},
    {"{\"kinds\": [\"openai\", \"aws2\"]}",
     "secrets.params.kinds[1]: \"aws2\": unknown kind (openai, anthropic, aws, github, slack, "
     "google, stripe, private_key, jwt, url_credentials, generic)"},
    {"{\"kinds\": [true]}", "secrets.params.kinds[0]: expected a string"},
    {"{\"kinds\": []}", "secrets.params.kinds: expected a non-empty array of kind names"},
    {"{\"entropy\": 1}", "secrets.params.entropy: expected true or false"},
    {"{\"entropy_threshold\": 7}",
     "secrets.params.entropy_threshold: expected a number of bits per character from 1 to 6"},
    {"{\"entropy_min_length\": 8}",
     "secrets.params.entropy_min_length: expected an integer from 16 to 4096"},
    {"{\"allow\": \"sk-test\"}", "secrets.params.allow: expected an array of strings"},
    {"{\"allow\": [\"sk-\"]}", "secrets.params.allow[0]: \"sk-\": shorter than 8 characters"},
    {"{\"allow\": [3]}", "secrets.params.allow[0]: expected a string"},
    {"{\"threshold\": 1}",
     "secrets.params.threshold: unknown parameter (known: kinds, entropy, entropy_threshold, "
     "entropy_min_length, allow)"},
};

static const struct harness_param_case param_cases[] = {
    {"kinds [github] flags GitHub tokens", "{\"kinds\": [\"github\"]}", "t " GHP, true},
    {"kinds [github] leaves OpenAI keys", "{\"kinds\": [\"github\"]}", OPENAI_LEGACY, false},
    {"entropy is off by default", NULL, "blob " B64_48 " end", false},
    {"entropy flags a long random token", "{\"entropy\": true}", "blob " B64_48 " end", true},
    {"entropy leaves hex hashes (4 bits per char at most)", "{\"entropy\": true}",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false},
    {"entropy leaves tokens shorter than the minimum",
     "{\"entropy\": true, \"entropy_min_length\": 64}", "blob " B64_48 " end", false},
    {"a higher threshold leaves it", "{\"entropy\": true, \"entropy_threshold\": 5.9}",
     "blob " B64_48 " end", false},
    {"allow ignores a value by its prefix", "{\"allow\": [\"sk-gsH9R1Yp\"]}", OPENAI_LEGACY, false},
    {"allow leaves other values", "{\"allow\": [\"sk-gsH9R1Yp\"]}", "t " GHP, true},
};

static const char *const pathological[] = {
    "sk-",    "eyJ",   "eyJa.", "-----BEGIN RSA PRIVATE KEY-----", "token=", "a+", "AKIA",
    "xoxb-1", "://a:", "ghp_a"};

int main(void)
{
    harness_cases(&scorer_secrets, cases, HARNESS_COUNT(cases));
    test_score_and_applicability();
    harness_param_errors(&scorer_secrets, param_errors, HARNESS_COUNT(param_errors));
    harness_params(&scorer_secrets, param_cases, HARNESS_COUNT(param_cases));
    /* With the entropy detector on: the costliest configuration. */
    harness_pathological(&scorer_secrets, "{\"entropy\": true}", pathological,
                         HARNESS_COUNT(pathological));
    return done_testing();
}
