set -e
cd /tmp
n=$((200 + ${SILK_RUN:-0} * 7))
busybox seq 1 "$n" | busybox sort -r | busybox uniq > numbers.txt
test "$(busybox wc -l < numbers.txt)" -eq "$n"
busybox sed -e 's/1/one/g' numbers.txt | busybox awk '{ s += length($0) } END { print s }' > sum.txt
busybox md5sum numbers.txt sum.txt > sums.md5
busybox mkdir -p pack
busybox cp numbers.txt sum.txt sums.md5 pack/
busybox tar -cf pack.tar pack
busybox gzip -9 pack.tar
busybox mkdir unpack
busybox tar -xzf pack.tar.gz -C unpack
cd unpack/pack && busybox md5sum -c ../../sums.md5 >/dev/null
busybox date -u +%s > /dev/null
busybox ls -la /tmp > /dev/null
