package steps

import pipeline.FakeJenkins

import java.nio.file.Files

/** Where the library is (the pom passes it), and a FakeJenkins with it loaded. */
class Library {
    // Every build folder made here (a workspace, its @tmp with secret files) goes when the test
    // JVM exits: a run of the suite leaves nothing in /tmp.
    private static final List<File> BUILDS = Collections.synchronizedList([])
    static {
        Runtime.runtime.addShutdownHook(new Thread({ BUILDS.each { it.deleteDir() } }))
    }

    static File dir() {
        return new File(System.getProperty('kp.library', '.')).canonicalFile
    }

    static FakeJenkins jenkins() {
        File build = Files.createTempDirectory('kp-build').toFile()
        BUILDS << build
        return new FakeJenkins(new File(build, 'workspace')).library(dir())
    }
}
