/**
 * Credentials in every form kvmdoctor must scrub, each with the values that must never be
 * written anywhere. Values are distinctive (S3c..Zq) so a grep finds nothing else.
 */
export interface Planted {
  form: string
  text: string
  secrets: string[]
}

/** One-line forms: command lines (ps, stderr, error) and log lines. */
export const LINE_FORMS: Planted[] = [
  {form: 'mysql -pPASSWORD', text: 'mysql -uroot -pS3c01Zq appdb', secrets: ['S3c01Zq']},
  {form: 'mysqldump --password=', text: 'mysqldump --password=S3c02Zq --all-databases', secrets: ['S3c02Zq']},
  {form: '--password VALUE', text: '/usr/bin/agent --password S3c03Zq --verbose', secrets: ['S3c03Zq']},
  {form: 'PGPASSWORD=', text: 'PGPASSWORD=S3c04Zq psql -h db01 -U app', secrets: ['S3c04Zq']},
  {form: 'MYSQL_PWD=', text: 'env MYSQL_PWD=S3c05Zq mysql -h db02', secrets: ['S3c05Zq']},
  {form: 'AWS_SECRET_ACCESS_KEY=', text: 'AWS_SECRET_ACCESS_KEY=S3c06Zq/kJ+x aws s3 ls', secrets: ['S3c06Zq']},
  {form: 'user:password@ in a URL', text: 'curl -sf https://backup:S3c07Zq@files.corp.test/dump.sql', secrets: ['S3c07Zq']},
  {form: ':password@ in a redis URL', text: 'app --cache redis://:S3c08Zq@10.0.0.5:6379/0', secrets: ['S3c08Zq']},
  {form: '--secret-key=', text: 'minio gateway --access-key admin --secret-key=S3c09Zq', secrets: ['S3c09Zq']},
  {form: '--pass=', text: 'backup-tool --user app --pass=S3c10Zq', secrets: ['S3c10Zq']},
  {form: '--requirepass', text: 'redis-server *:6379 --requirepass S3c11Zq --masterauth S3c11bZq', secrets: ['S3c11Zq', 'S3c11bZq']},
  {form: 'sshpass -p', text: 'sshpass -p S3c12Zq ssh root@hv2 uptime', secrets: ['S3c12Zq']},
  {form: 'Authorization: Bearer', text: 'curl -H Authorization: Bearer S3c13Zqxyz https://api.test/v1', secrets: ['S3c13Zqxyz']},
  {form: 'qemu -object secret,data=', text: 'qemu-system-x86_64 -object secret,id=sec0,data=S3c14Zq,format=base64 -name guest=web', secrets: ['S3c14Zq']},
  {form: 'qemu JSON secret object', text: 'qemu-system-x86_64 -object {"qom-type":"secret","id":"libvirt-1-storage-auth-secret0","data":"S3c15Zq","keyid":"masterKey0","iv":"AAAA","format":"base64"}', secrets: ['S3c15Zq']},
  {form: 'a quoted two-word password', text: 'migrate --password "S3c16Zq S3c16bZq" --to hv3', secrets: ['S3c16Zq', 'S3c16bZq']},
  {form: "passwd = '…' with spaces", text: "qemu.conf: vnc_password = 'S3c17Zq S3c17bZq'", secrets: ['S3c17Zq', 'S3c17bZq']},
  {form: 'redis-cli -a', text: 'redis-cli -h cache -a S3c18Zq ping', secrets: ['S3c18Zq']},
  {form: 'curl -u user:password', text: 'curl -u admin:S3c19Zq https://pdu01/status', secrets: ['S3c19Zq']},
  {form: '--token VALUE', text: 'node-agent --token S3c20Zq --server https://mgmt', secrets: ['S3c20Zq']},
  {form: 'api_key= in a query string', text: 'GET /metrics?api_key=S3c21Zq&format=json', secrets: ['S3c21Zq']},
  {form: 'Authorization: Basic', text: 'proxy: Authorization: Basic S3c22Zq== sent', secrets: ['S3c22Zq']},
  {form: '"password": "…" (JSON)', text: 'config {"user": "app", "password": "S3c23Zq"}', secrets: ['S3c23Zq']},
  {form: 'password: … (YAML, logs)', text: 'loaded settings password: S3c24Zq', secrets: ['S3c24Zq']},
  {form: 'ceph :key= in an rbd filename', text: 'qemu-system-x86_64 -drive file=rbd:pool/img:id=admin:key=S3c25Zq:auth_supported=cephx', secrets: ['S3c25Zq']},
  {form: 'GITHUB_TOKEN=', text: 'GITHUB_TOKEN=S3c26Zq ./deploy.sh', secrets: ['S3c26Zq']},
  {form: 'X-Auth-Token header', text: 'swift -H X-Auth-Token: S3c27Zq stat', secrets: ['S3c27Zq']},
  {form: 'AWS access key id', text: 'aws configure set aws_access_key_id AKIAS3C28ZQABCDEFGHI', secrets: ['AKIAS3C28ZQABCDEFGHI']},
  {form: "IDENTIFIED BY '…'", text: "mysql -e ALTER USER app IDENTIFIED BY 'S3c30Zq'", secrets: ['S3c30Zq']},
  {form: '--client-secret=', text: 'oauth2-proxy --client-id kvm --client-secret=S3c31Zq', secrets: ['S3c31Zq']},
  {form: '--db-password VALUE', text: 'exporter --db-password S3c32Zq', secrets: ['S3c32Zq']},
  {form: 'mongodb://user:password@', text: 'mongodump --uri mongodb://root:S3c33Zq@db03:27017/admin', secrets: ['S3c33Zq']},
  {form: 'VAULT_TOKEN=', text: 'VAULT_TOKEN=S3c34Zq vault read secret/x', secrets: ['S3c34Zq']},
  {form: 'Cookie header', text: 'wget --header Cookie: session=S3c35Zq https://x', secrets: ['S3c35Zq']},
]

/** A PEM private key, as journald shows one logged line by line. */
export const PEM_LINES = [
  '2026-11-28T10:00:01+0000 vm deploy[812]: -----BEGIN OPENSSH PRIVATE KEY-----',
  '2026-11-28T10:00:01+0000 vm deploy[812]: b3BlbnNzaC1rZXktdjEAAAAABG5vbmUS3c40ZqAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  '2026-11-28T10:00:01+0000 vm deploy[812]: QyNTUxOQAAACS3c41ZqDY3nZc5mFkQ4yBvTqZ3JkXQ0cHr0Wc3nB8WcAAAAJgH3q1tB96r',
  '2026-11-28T10:00:01+0000 vm deploy[812]: -----END OPENSSH PRIVATE KEY-----',
]
export const PEM_SECRETS = ['S3c40Zq', 'S3c41Zq']

/** libvirt domain XML forms, planted into a guest's XML. */
export const XML_FORMS: Planted[] = [
  {form: 'VNC passwd attribute', text: "<graphics type='vnc' port='5900' passwd='S3cX1Zq'/>", secrets: ['S3cX1Zq']},
  {form: 'SPICE passwd = "…" with spaces', text: '<graphics type="spice" passwd = "S3cX2Zq S3cX2bZq"/>', secrets: ['S3cX2Zq', 'S3cX2bZq']},
  {
    form: '<auth username> and <secret uuid usage> of a network disk',
    text: "<disk type='network'><source protocol='rbd' name='pool/img'><auth username='S3cX3Zq'><secret type='ceph' usage='client.S3cX4Zq' uuid='S3cX5Zq-uuid'/></auth></source></disk>",
    secrets: ['S3cX3Zq', 'S3cX4Zq', 'S3cX5Zq'],
  },
  {form: '<cookie> of an https disk', text: "<disk type='network'><source protocol='https' name='/img.qcow2'><host name='store'/><cookies><cookie name='session'>S3cX6Zq</cookie></cookies></source></disk>", secrets: ['S3cX6Zq']},
]

/** ISC dhcpd.conf key blocks. */
export const DHCPD_KEYS = 'key "omapi" {\n  algorithm hmac-md5;\n  secret "S3cD1Zq==";\n};\nkey ddns { algorithm hmac-sha256; secret S3cD2ZqBase64x; }\n'
export const DHCPD_SECRETS = ['S3cD1Zq', 'S3cD2Zq']

export const ALL_SECRETS = [...LINE_FORMS.flatMap((f) => f.secrets), ...PEM_SECRETS, ...XML_FORMS.flatMap((f) => f.secrets), ...DHCPD_SECRETS]

/** The planted values found in a text (empty when none leaked). */
export const leaked = (text: string) => ALL_SECRETS.filter((s) => text.includes(s))
