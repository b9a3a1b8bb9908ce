# Sourced by kafka.sh and zookeeper.sh, which run Java servers from their
# jars on Maven Central. The sourcing script defines log and CACHE.

# resolve_jars NAME GROUP:ARTIFACT:VERSION... copies the runtime closure of
# the artifacts into $CACHE/libs, once per cache, installing Maven from apt
# when it is missing. The copy lands in a temporary folder first, so an
# interrupted download is never mistaken for a complete one.
resolve_jars() {
	if [[ -f "$CACHE/libs/.complete" ]]; then
		return
	fi
	if ! command -v mvn >/dev/null; then
		log "installing maven from apt"
		local sudo=""
		[[ "$(id -u)" == 0 ]] || sudo="sudo"
		$sudo apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q maven >&2
	fi
	local name=$1 dep group artifact version
	shift
	mkdir -p "$CACHE"
	{
		printf '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
		printf '  <modelVersion>4.0.0</modelVersion>\n  <groupId>dev.taskpulse</groupId>\n'
		printf '  <artifactId>%s-jars</artifactId>\n  <version>1</version>\n  <packaging>pom</packaging>\n' "$name"
		printf '  <dependencies>\n'
		for dep in "$@"; do
			IFS=: read -r group artifact version <<<"$dep"
			printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$group" "$artifact" "$version"
		done
		printf '  </dependencies>\n</project>\n'
	} >"$CACHE/pom.xml"
	log "resolving $name jars from Maven Central into $CACHE"
	rm -rf "$CACHE/libs.tmp"
	mvn -q -B -f "$CACHE/pom.xml" dependency:copy-dependencies \
		-Dstyle.color=never -DincludeScope=runtime -DoutputDirectory="$CACHE/libs.tmp" >&2
	touch "$CACHE/libs.tmp/.complete"
	rm -rf "$CACHE/libs"
	mv "$CACHE/libs.tmp" "$CACHE/libs"
}
